"""The DuckDB store: versioned schema, one-writer locking, and ingestion in one transaction.

Every table is created by `MIGRATIONS`, an ordered list of (version, SQL). A writable open
applies the versions not yet recorded in `schema_migrations`; a read-only open of an outdated
database refuses with a message saying to run a writing command first. To add tables, append
`(next_version, "CREATE TABLE ...")` to `MIGRATIONS`; never edit an applied entry.

`Store.ingest` runs validate -> merge prices -> store rejects -> upsert securities -> upsert
corporate actions -> recompute `beyond_limit` flags -> record the run, all inside one
transaction: a failure (or a killed process) at any point leaves the database as it was.

Flags: `prices.repaired` records that validation widened high/low (`ohlc_repaired`);
`prices.flag` is derived from it and the close-to-close move. When both apply, `beyond_limit`
wins in `flag`, because it is the flag that decides whether the day's return may be used (it
may not); the repair is still recorded in `repaired`, so the flag can be recomputed losslessly
when later rows change the series.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import polars as pl

from nepse.ingest.quality import OHLC_REPAIRED, QualityResult, validate
from nepse.schema import (
    CORPORATE_ACTION_SCHEMA,
    PRICE_COLUMNS,
    REASONS,
    SECURITY_SCHEMA,
    ReadResult,
)
from nepse.settings import Settings
from nepse.store.base import StoreBase, now_utc
from nepse.store.days import DayRecord

log = logging.getLogger(__name__)

BEYOND_LIMIT = "beyond_limit"
# Float noise: a +10% limit-hit day computes as 0.10000000000000009, and it is a real day.
LIMIT_TOLERANCE = 1e-6
CORPORATE_ACTION_KINDS = ("bonus", "rights", "cash")
CORPORATE_ACTION_KEY = ("symbol", "kind", "book_closure_date", "fiscal_year")
# Stages of `Store.ingest`, in order; `on_stage(name)` is called after each one.
STAGES = ("validated", "merged", "rejects", "securities", "corporate_actions", "flags", "run")


@dataclass
class IngestReport:
    """What one ingestion run did; `rows_read == inserted+updated+unchanged+rejected+duplicates`."""

    run_id: str
    source: str
    fmt: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    duplicates: int
    reasons: dict[str, int] = field(default_factory=dict)
    """Rejected rows per reason code, parse rejects included."""
    flagged: dict[str, int] = field(default_factory=dict)
    """Rows of this input carrying each flag as stored after the run (flags are recomputed)."""
    min_date: date | None = None
    """Earliest date among the rows kept (clean), None when nothing was kept."""
    max_date: date | None = None
    symbols: int = 0
    """Distinct symbols among the rows kept."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float = 0.0
    """Wall time of the whole ingestion, validation and commit included."""

    def check_identity(self) -> None:
        """Raise AssertionError unless every row read is in exactly one outcome."""
        total = self.inserted + self.updated + self.unchanged + self.rejected + self.duplicates
        assert self.rows_read == total, (
            f"ingest identity broken for run {self.run_id}: rows_read {self.rows_read} != "
            f"inserted {self.inserted} + updated {self.updated} + unchanged {self.unchanged} "
            f"+ rejected {self.rejected} + duplicates {self.duplicates} = {total}"
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (dates as ISO text) for JSON artifacts."""
        out = asdict(self)
        for key in ("min_date", "max_date", "started_at", "finished_at"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out

    def to_markdown(self, top: int = 10) -> str:
        """A short Markdown summary: outcomes, top rejection reasons, flags, dates, symbols."""
        dates = f"{self.min_date} .. {self.max_date}" if self.min_date is not None else "(no rows)"
        lines = [
            f"## Ingestion run `{self.run_id}`",
            "",
            f"- source: `{self.source}` (format `{self.fmt}`)",
            f"- dates: {dates}; symbols: {self.symbols}",
            f"- took {self.seconds:.2f} s",
            "",
            "| outcome | rows |",
            "| --- | ---: |",
        ]
        for name in ("rows_read", "inserted", "updated", "unchanged", "rejected", "duplicates"):
            lines.append(f"| {name} | {getattr(self, name):,} |")
        if self.reasons:
            lines += ["", "| rejection reason | rows | meaning |", "| --- | ---: | --- |"]
            ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            for reason, n in ranked[:top]:
                lines.append(f"| {reason} | {n:,} | {REASONS.get(reason, '')} |")
            if len(ranked) > top:
                rest = sum(n for _, n in ranked[top:])
                lines.append(f"| (other {len(ranked) - top}) | {rest:,} | |")
        if self.flagged:
            lines += ["", "| flag | rows |", "| --- | ---: |"]
            lines += [f"| {flag} | {n:,} |" for flag, n in sorted(self.flagged.items())]
        return "\n".join(lines) + "\n"


class PricesMixin(StoreBase):
    """Prices, rejects, securities, corporate actions and ingestion runs."""

    # --- ingestion ------------------------------------------------------------------------
    def ingest(
        self,
        read: ReadResult,
        *,
        settings: Settings,
        today: date,
        on_stage: Callable[[str], None] | None = None,
        source: str | None = None,
        day: DayRecord | None = None,
    ) -> IngestReport:
        """Validate and store a reader's result in one transaction; return what happened.

        With `day`, the day's `ingested_days` row is written in the same transaction, so a day
        is marked complete exactly when its prices are committed.
        """
        self._require_writable("ingest")
        stage = on_stage or (lambda _name: None)
        started = now_utc()
        t0 = time.perf_counter()
        run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        source = source or _describe_sources(read.sources)
        try:
            with self.transaction():
                quality = validate(
                    read.prices,
                    settings=settings,
                    today=today,
                    securities=pl.concat(
                        [self.securities().select(list(SECURITY_SCHEMA)), read.securities]
                    ),
                    parse_rejects=read.rejects,
                )
                stage("validated")
                counts = self._merge_prices(quality, run_id=run_id, ts=started)
                stage("merged")
                self._store_rejects(quality.rejects, run_id=run_id, ts=started)
                stage("rejects")
                self._upsert_securities(read.securities, ts=started)
                stage("securities")
                self._upsert_corporate_actions(read.corporate_actions, ts=started)
                stage("corporate_actions")
                self._recompute_flags(settings)
                flagged = dict(
                    self._con.execute(
                        "SELECT p.flag, count(*) FROM prices p "
                        "JOIN _stage s ON p.symbol = s.symbol AND p.date = s.date "
                        "WHERE p.flag IS NOT NULL GROUP BY 1 ORDER BY 1"
                    ).fetchall()
                )
                stage("flags")
                clean = quality.clean
                finished = now_utc()
                report = IngestReport(
                    run_id=run_id,
                    source=source,
                    fmt=read.fmt,
                    rows_read=quality.rows_in,
                    inserted=counts.get("insert", 0),
                    updated=counts.get("update", 0),
                    unchanged=counts.get("same", 0),
                    rejected=quality.rejects.height,
                    duplicates=quality.duplicates,
                    reasons=quality.reasons,
                    flagged=flagged,
                    min_date=clean["date"].min() if clean.height else None,
                    max_date=clean["date"].max() if clean.height else None,
                    symbols=clean["symbol"].n_unique(),
                    started_at=started,
                    finished_at=finished,
                )
                report.check_identity()
                self._exec(
                    # Named columns: later migrations may add columns to this table.
                    "INSERT INTO ingestion_runs (run_id, source, fmt, rows_read, inserted, "
                    "updated, unchanged, rejected, duplicates, started_at, finished_at, status, "
                    "min_date, max_date, symbols) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?)",
                    [
                        run_id,
                        source,
                        read.fmt,
                        report.rows_read,
                        report.inserted,
                        report.updated,
                        report.unchanged,
                        report.rejected,
                        report.duplicates,
                        started,
                        finished,
                        report.min_date,
                        report.max_date,
                        report.symbols,
                    ],
                )
                stage("run")
                if day is not None:
                    self._upsert_day(day, run_id=run_id, rows_read=report.rows_read, ts=finished)
                self._exec("DROP TABLE IF EXISTS _stage")
        finally:
            for view in ("_in_prices", "_in_rejects", "_in_securities", "_in_actions"):
                self._con.unregister(view)
        report.seconds = time.perf_counter() - t0
        log.info(
            "ingested %s: %d read, %d inserted, %d updated, %d unchanged, %d rejected, "
            "%d duplicates in %.2f s",
            source,
            report.rows_read,
            report.inserted,
            report.updated,
            report.unchanged,
            report.rejected,
            report.duplicates,
            report.seconds,
        )
        return report

    def _merge_prices(self, quality: QualityResult, *, run_id: str, ts: datetime) -> dict[str, int]:
        """Insert new (symbol, date) keys, update changed ones; count insert/update/same."""
        self._con.register("_in_prices", quality.clean.to_arrow())
        values = [c for c in PRICE_COLUMNS if c not in ("symbol", "date")]
        changed = " OR ".join(f"i.{c} IS DISTINCT FROM p.{c}" for c in values)
        self._exec(
            f"""
            CREATE OR REPLACE TEMP TABLE _stage AS
            SELECT i.*, coalesce(i.flag = '{OHLC_REPAIRED}', false) AS repaired,
                   CASE WHEN p.symbol IS NULL THEN 'insert'
                        WHEN {changed} OR p.repaired IS DISTINCT FROM
                             coalesce(i.flag = '{OHLC_REPAIRED}', false) THEN 'update'
                        ELSE 'same' END AS action
            FROM _in_prices i
            LEFT JOIN prices p ON p.symbol = i.symbol AND p.date = i.date
            """,
        )
        assignments = ", ".join(f"{c} = s.{c}" for c in values)
        self._exec(
            f"""
            UPDATE prices SET {assignments}, source = s.source, flag = s.flag,
                   repaired = s.repaired, ingested_at = ?, run_id = ?
            FROM _stage s
            WHERE s.action = 'update' AND prices.symbol = s.symbol AND prices.date = s.date
            """,
            [ts, run_id],
        )
        columns = ", ".join(PRICE_COLUMNS)
        self._exec(
            f"""
            INSERT INTO prices ({columns}, source, flag, repaired, ingested_at, run_id)
            SELECT {columns}, source, flag, repaired, ?, ? FROM _stage
            WHERE action = 'insert' ORDER BY symbol, date
            """,
            [ts, run_id],
        )
        return dict(self._con.execute("SELECT action, count(*) FROM _stage GROUP BY 1").fetchall())

    def _store_rejects(self, rejects: pl.DataFrame, *, run_id: str, ts: datetime) -> None:
        """Insert rejects not already stored on (source, line, raw, reason)."""
        self._con.register("_in_rejects", rejects.to_arrow())
        self._exec(
            """
            INSERT INTO rejected_prices
            SELECT ?, r.source, r.line, r.raw, r.reason, r.detail, ? FROM _in_rejects r
            WHERE NOT EXISTS (
                SELECT 1 FROM rejected_prices e
                WHERE e.source IS NOT DISTINCT FROM r.source
                  AND e.line IS NOT DISTINCT FROM r.line
                  AND e.raw IS NOT DISTINCT FROM r.raw
                  AND e.reason = r.reason)
            """,
            [run_id, ts],
        )

    def _upsert_securities(self, securities: pl.DataFrame, *, ts: datetime) -> None:
        """Upsert the master by symbol; a null field in the input keeps the stored value."""
        incoming = (
            securities.filter(pl.col("symbol").str.strip_chars().fill_null("") != "")
            .unique("symbol", keep="last", maintain_order=True)
            .select(list(SECURITY_SCHEMA))
        )
        self._con.register("_in_securities", incoming.to_arrow())
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
        """Upsert on (symbol, kind, book_closure_date, fiscal_year); the newest input wins."""
        valid = pl.col("symbol").is_not_null() & pl.col("kind").is_in(CORPORATE_ACTION_KINDS)
        bad = actions.filter(~valid.fill_null(False))
        if bad.height:
            log.warning(
                "skipped %d corporate actions without a symbol or with a kind not in %s",
                bad.height,
                CORPORATE_ACTION_KINDS,
            )
        incoming = (
            actions.filter(valid.fill_null(False))
            .unique(list(CORPORATE_ACTION_KEY), keep="last", maintain_order=True)
            .select(list(CORPORATE_ACTION_SCHEMA))
        )
        self._con.register("_in_actions", incoming.to_arrow())
        key = " AND ".join(f"c.{k} IS NOT DISTINCT FROM i.{k}" for k in CORPORATE_ACTION_KEY)
        fields = [c for c in CORPORATE_ACTION_SCHEMA if c not in CORPORATE_ACTION_KEY]
        changed = " OR ".join(f"i.{c} IS DISTINCT FROM c.{c}" for c in fields)
        assignments = ", ".join(f"{c} = i.{c}" for c in fields)
        self._exec(
            f"""
            UPDATE corporate_actions AS c SET {assignments}, updated_at = ?
            FROM _in_actions i WHERE {key} AND ({changed})
            """,
            [ts],
        )
        columns = ", ".join(CORPORATE_ACTION_SCHEMA)
        self._exec(
            f"""
            INSERT INTO corporate_actions ({columns}, updated_at)
            SELECT {columns}, ? FROM _in_actions i
            WHERE NOT EXISTS (SELECT 1 FROM corporate_actions c WHERE {key})
            """,
            [ts],
        )

    def _recompute_flags(self, settings: Settings) -> None:
        """Re-derive `flag` over the whole stored series of every symbol this run changed."""
        self._exec(
            f"""
            UPDATE prices SET flag = n.new_flag
            FROM (
                SELECT symbol, date, flag AS old_flag,
                       CASE WHEN prev_close IS NOT NULL
                                 AND abs(close / prev_close - 1) > limit_frac + {LIMIT_TOLERANCE}
                            THEN '{BEYOND_LIMIT}'
                            WHEN repaired THEN '{OHLC_REPAIRED}' END AS new_flag
                FROM (
                    SELECT symbol, date, close, flag, repaired,
                           lag(close) OVER (PARTITION BY symbol ORDER BY date) AS prev_close,
                           CASE WHEN date >= ? THEN ? ELSE ? END AS limit_frac
                    FROM prices
                    WHERE symbol IN (SELECT DISTINCT symbol FROM _stage WHERE action <> 'same')
                )
            ) n
            WHERE prices.symbol = n.symbol AND prices.date = n.date
              AND n.new_flag IS DISTINCT FROM n.old_flag
            """,
            [
                settings.price_limit_change_date,
                settings.price_limit_after,
                settings.price_limit_before,
            ],
        )

    # --- readers --------------------------------------------------------------------------
    def prices(
        self,
        symbols: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pl.DataFrame:
        """Stored prices (optionally some symbols, start..end inclusive), by symbol and date."""
        where, params = ["true"], []
        if symbols is not None:
            where.append("list_contains(?::VARCHAR[], symbol)")
            params.append(list(symbols))
        if start is not None:
            where.append("date >= ?")
            params.append(start)
        if end is not None:
            where.append("date <= ?")
            params.append(end)
        return self._frame(
            f"SELECT * FROM prices WHERE {' AND '.join(where)} ORDER BY symbol, date",
            params,
        )

    def securities(self) -> pl.DataFrame:
        """The securities master, by symbol."""
        return self._frame("SELECT * FROM securities ORDER BY symbol")

    def corporate_actions(self) -> pl.DataFrame:
        """Stored corporate actions, by symbol, book-closure date and kind."""
        return self._frame(
            "SELECT * FROM corporate_actions ORDER BY symbol, book_closure_date, kind, fiscal_year",
        )

    def rejects(self, run_id: str | None = None) -> pl.DataFrame:
        """Quarantined rows (of one run, or all), by source and line."""
        sql = "SELECT * FROM rejected_prices"
        params: list[Any] = []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        return self._frame(sql + " ORDER BY source, line, reason", params)

    def runs(self) -> pl.DataFrame:
        """Ingestion runs, oldest first."""
        return self._frame("SELECT * FROM ingestion_runs ORDER BY started_at, run_id")

    def trading_dates(self, min_symbols: int = 1) -> pl.Series:
        """Dates with stored prices of at least `min_symbols` symbols, ascending (the calendar)."""
        return self._frame(
            "SELECT date FROM prices GROUP BY date HAVING count(*) >= ? ORDER BY date",
            [min_symbols],
        ).to_series()

    def count_prices(self, day: date) -> int:
        """How many prices are stored for `day`."""
        return self._exec("SELECT count(*) FROM prices WHERE date = ?", [day])[0][0]


def _describe_sources(sources: list[str]) -> str:
    """A short label for a run's sources: the one source, or their common folder and a count."""
    if not sources:
        return "(unknown)"
    if len(sources) == 1:
        return sources[0]
    try:
        common = os.path.commonpath(sources) or sources[0]
    except ValueError:  # mixed absolute and relative paths, or not paths at all
        common = sources[0]
    return f"{common} ({len(sources)} sources)"
