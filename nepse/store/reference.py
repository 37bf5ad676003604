"""Reference tables: the securities master and corporate actions (with their revisions).

A corporate action is identified by what it is: symbol, kind, fiscal year (or, where a source
gives none, the book-closure year) and ratio. A corrected book-closure date or percent therefore
*revises* the stored action instead of adding a second one (which would adjust history twice);
the replaced version is kept in `corporate_action_revisions`.
"""

from __future__ import annotations

import logging
from datetime import datetime

import polars as pl

from nepse.errors import DataQualityError
from nepse.schema import CORPORATE_ACTION_SCHEMA, SECURITY_SCHEMA
from nepse.store.base import StoreBase

log = logging.getLogger(__name__)

CORPORATE_ACTION_KINDS = ("bonus", "rights", "cash")
CORPORATE_ACTION_KEY = ("symbol", "kind", "fiscal_year", "ratio")


def _identity(alias: str) -> str:
    """SQL of an action's identity (fiscal year, else book-closure year; ratio as written)."""
    a = alias
    return (
        f"concat_ws('|', {a}.symbol, {a}.kind, coalesce({a}.fiscal_year, "
        f"CAST(year({a}.book_closure_date) AS VARCHAR), ''), coalesce({a}.ratio, ''))"
    )


def one_per_symbol(securities: pl.DataFrame) -> pl.DataFrame:
    """The rows of a securities list, one per symbol; DataQualityError if a symbol comes with
    different values (the readers reject those: here it is a guard, never last-wins)."""
    incoming = (
        securities.filter(pl.col("symbol").str.strip_chars().fill_null("") != "")
        .select(list(SECURITY_SCHEMA))
        .unique(maintain_order=True)
    )
    twice = incoming.filter(pl.col("symbol").is_duplicated())["symbol"].unique().sort()
    if twice.len():
        raise DataQualityError(
            f"securities list names {', '.join(twice.head(10))} more than once with different "
            "values; nothing of it was stored (which copy is right is unknown): fix the list"
        )
    return incoming


class ReferenceMixin(StoreBase):
    """Securities master and corporate actions."""

    def _upsert_securities(self, securities: pl.DataFrame, *, ts: datetime) -> None:
        """Upsert the master by symbol; a null field in the input keeps the stored value."""
        incoming = one_per_symbol(securities)
        self._register("_in_securities", incoming)
        fields = [c for c in SECURITY_SCHEMA if c != "symbol"]
        merged = ", ".join(f"{c} = coalesce(i.{c}, securities.{c})" for c in fields)
        changed = " OR ".join(
            f"coalesce(i.{c}, securities.{c}) IS DISTINCT FROM securities.{c}" for c in fields
        )
        self._exec(
            f"""
            UPDATE securities SET {merged}, updated_at = ?
            FROM _in_securities i WHERE securities.symbol = i.symbol AND ({changed})
            """,
            [ts],
        )
        self._exec(
            """
            INSERT INTO securities SELECT i.*, ? FROM _in_securities i
            WHERE NOT EXISTS (SELECT 1 FROM securities s WHERE s.symbol = i.symbol)
            """,
            [ts],
        )

    def _upsert_corporate_actions(self, actions: pl.DataFrame, *, ts: datetime) -> None:
        """Upsert actions by identity; a changed one is revised, its old version kept."""
        valid = pl.col("symbol").is_not_null() & pl.col("kind").is_in(CORPORATE_ACTION_KINDS)
        bad = actions.filter(~valid.fill_null(False))
        if bad.height:
            log.warning(
                "skipped %d corporate actions without a symbol or with a kind not in %s",
                bad.height,
                CORPORATE_ACTION_KINDS,
            )
        ident = pl.concat_str(
            [
                pl.col("symbol"),
                pl.col("kind"),
                pl.coalesce(
                    pl.col("fiscal_year"),
                    pl.col("book_closure_date").dt.year().cast(pl.String),
                    pl.lit(""),
                ),
                pl.col("ratio").fill_null(""),
            ],
            separator="|",
        )
        incoming = (
            actions.filter(valid.fill_null(False))
            .with_columns(_ident=ident)
            .unique("_ident", keep="last", maintain_order=True)
            .select([*CORPORATE_ACTION_SCHEMA, "_ident"])
        )
        self._register("_in_actions", incoming)
        fields = [c for c in CORPORATE_ACTION_SCHEMA if c not in CORPORATE_ACTION_KEY]
        changed = " OR ".join(f"i.{c} IS DISTINCT FROM c.{c}" for c in fields if c != "source")
        match = f"{_identity('c')} = i._ident"
        columns = ", ".join(CORPORATE_ACTION_SCHEMA)
        self._exec(
            f"""
            INSERT INTO corporate_action_revisions
            SELECT c.{columns.replace(", ", ", c.")}, c.updated_at, ?
            FROM corporate_actions c JOIN _in_actions i ON {match} WHERE {changed}
            """,
            [ts],
        )
        assignments = ", ".join(f"{c} = i.{c}" for c in fields)
        self._exec(
            f"""
            UPDATE corporate_actions AS c SET {assignments}, updated_at = ?
            FROM _in_actions i WHERE {match} AND ({changed})
            """,
            [ts],
        )
        self._exec(
            f"""
            INSERT INTO corporate_actions ({columns}, updated_at)
            SELECT {columns}, ? FROM _in_actions i
            WHERE NOT EXISTS (SELECT 1 FROM corporate_actions c WHERE {match})
            """,
            [ts],
        )

    # --- readers --------------------------------------------------------------------------
    def securities(self) -> pl.DataFrame:
        """The securities master, by symbol."""
        return self._frame("SELECT * FROM securities ORDER BY symbol")

    def corporate_actions(self) -> pl.DataFrame:
        """Stored corporate actions, by symbol, book-closure date and kind."""
        return self._frame(
            "SELECT * FROM corporate_actions ORDER BY symbol, book_closure_date, kind, fiscal_year",
        )

    def corporate_action_revisions(self) -> pl.DataFrame:
        """Replaced versions of corporate actions, oldest revision first."""
        return self._frame("SELECT * FROM corporate_action_revisions ORDER BY revised_at, symbol")
