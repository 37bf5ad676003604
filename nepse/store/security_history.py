"""The securities master in time: which securities existed, with which status, on any past day.

`securities` holds the master as last seen. `security_history` keeps one row per (symbol,
version): the attributes (name, sector, instrument type, status) and the days they were in
force (`valid_from`..`valid_to`, inclusive; null = open), plus the first and last day a list
showed that version. Recording a list (`record_securities`) closes the versions that changed
the day before the list's day and opens new ones; a symbol missing from a full list keeps its
version but stops being seen.

Before the first list, history is inferred, not observed, and marked `source = 'inferred'`:
a symbol first seen active is taken as active back to its first price; a symbol first seen
delisted or suspended is taken as active up to its last stored price and delisted/suspended
from the day after. That keeps delisted symbols in the universe of the days they traded
(no survivorship bias), which is all the shared data can reconstruct (docs/live-data.md).
The table is created by migration 7 (nepse/store/migrations.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl

from nepse.schema import SECURITY_SCHEMA
from nepse.store.base import StoreBase
from nepse.store.reference import one_per_symbol

ATTRIBUTES = ("name", "sector", "instrument_type", "status")
HISTORY_SCHEMA: dict[str, pl.DataType] = {
    **SECURITY_SCHEMA,
    "valid_from": pl.Date(),
    "valid_to": pl.Date(),
    "first_seen": pl.Date(),
    "last_seen": pl.Date(),
    "source": pl.String(),
}


class SecurityHistoryMixin(StoreBase):
    """Point-in-time securities master."""

    def record_securities(self, securities: pl.DataFrame, *, as_of: date, source: str) -> dict:
        """Record the list seen on `as_of`; return counts of new, changed and unchanged."""
        self._require_writable("record securities")
        incoming = one_per_symbol(securities)
        if incoming.is_empty():
            return {"new": 0, "changed": 0, "unchanged": 0}
        self._register("_in_sec", incoming)
        same = " AND ".join(f"h.{c} IS NOT DISTINCT FROM i.{c}" for c in ATTRIBUTES)
        with self.transaction():
            counts = self._exec(
                f"""
                SELECT count(*) FILTER (WHERE h.symbol IS NULL),
                       count(*) FILTER (WHERE h.symbol IS NOT NULL AND NOT ({same})),
                       count(*) FILTER (WHERE h.symbol IS NOT NULL AND ({same}))
                FROM _in_sec i LEFT JOIN security_history h
                  ON h.symbol = i.symbol AND h.valid_to IS NULL
                """
            )[0]
            # Unchanged versions: seen again.
            self._exec(
                f"""
                UPDATE security_history h SET last_seen = ?
                FROM _in_sec i WHERE h.symbol = i.symbol AND h.valid_to IS NULL AND ({same})
                """,
                [as_of],
            )
            # Changed versions: closed the day before, a new one opens on `as_of`.
            self._exec(
                f"""
                CREATE OR REPLACE TEMP TABLE _changed AS
                SELECT i.* FROM _in_sec i JOIN security_history h
                  ON h.symbol = i.symbol AND h.valid_to IS NULL WHERE NOT ({same})
                """
            )
            self._exec(
                """
                UPDATE security_history h SET valid_to = CAST(? AS DATE) - 1
                FROM _changed c WHERE h.symbol = c.symbol AND h.valid_to IS NULL
                """,
                [as_of],
            )
            self._exec(
                "INSERT INTO security_history SELECT *, ?, NULL, ?, ?, ? FROM _changed",
                [as_of, as_of, as_of, source],
            )
            # New symbols: history before this list is inferred from the stored prices.
            self._exec(
                """
                CREATE OR REPLACE TEMP TABLE _new AS
                SELECT i.*, p.last_day FROM _in_sec i
                LEFT JOIN (SELECT symbol, max(date) AS last_day FROM prices GROUP BY 1) p
                  ON p.symbol = i.symbol
                WHERE NOT EXISTS (SELECT 1 FROM security_history h WHERE h.symbol = i.symbol)
                """
            )
            inactive = "status IN ('D', 'S') AND last_day IS NOT NULL AND last_day < ?"
            self._exec(
                f"""
                INSERT INTO security_history
                SELECT symbol, name, sector, instrument_type, 'A', NULL, last_day, NULL, NULL,
                       'inferred'
                FROM _new WHERE {inactive}
                """,
                [as_of],
            )
            self._exec(
                f"""
                INSERT INTO security_history
                SELECT symbol, name, sector, instrument_type, status,
                       CASE WHEN {inactive} THEN last_day + 1 END, NULL, ?, ?, ?
                FROM _new
                """,
                [as_of, as_of, as_of, source],
            )
            self._exec("DROP TABLE IF EXISTS _changed")
            self._exec("DROP TABLE IF EXISTS _new")
        self._unregister("_in_sec")
        return dict(zip(("new", "changed", "unchanged"), counts, strict=True))

    def update_securities(self, securities: pl.DataFrame, *, as_of: date, source: str) -> dict:
        """A list fetched from a source: upsert the master and record it in the history."""
        with self.transaction():
            self._upsert_securities(securities, ts=datetime.now(UTC))  # type: ignore[attr-defined]
            return self.record_securities(securities, as_of=as_of, source=source)

    def last_list_day(self) -> date | None:
        """The day of the latest list recorded (None before any)."""
        rows = self._exec("SELECT max(last_seen) FROM security_history")
        return rows[0][0] if rows else None

    def security_history(self) -> pl.DataFrame:
        """Every version of every security, by symbol and start."""
        return self._frame(
            "SELECT * FROM security_history ORDER BY symbol, valid_from NULLS FIRST"
        ).cast(HISTORY_SCHEMA)  # type: ignore[arg-type]

    def securities_as_of(self, day: date) -> pl.DataFrame:
        """The master in force on `day` (SECURITY_SCHEMA), by symbol."""
        return self._frame(
            f"""
            SELECT {", ".join(SECURITY_SCHEMA)} FROM security_history
            WHERE coalesce(valid_from <= ?, true) AND coalesce(valid_to >= ?, true)
            ORDER BY symbol
            """,
            [day, day],
        )
