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
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from nepse.errors import DatabaseLockedError, NepseError
from nepse.ingest.quality import OHLC_REPAIRED, QualityResult, validate
from nepse.schema import (
    CORPORATE_ACTION_SCHEMA,
    PRICE_COLUMNS,
    REASONS,
    SECURITY_SCHEMA,
    ReadResult,
)
from nepse.settings import Settings
from nepse.store.ddl import DRIFT_DDL, MODELS_DDL
from nepse.store.ddl import PREDICTIONS_DDL as DAILY_DDL

log = logging.getLogger(__name__)

BEYOND_LIMIT = "beyond_limit"
# Float noise: a +10% limit-hit day computes as 0.10000000000000009, and it is a real day.
LIMIT_TOLERANCE = 1e-6
CORPORATE_ACTION_KINDS = ("bonus", "rights", "cash")
CORPORATE_ACTION_KEY = ("symbol", "kind", "book_closure_date", "fiscal_year")
# Stages of `Store.ingest`, in order; `on_stage(name)` is called after each one.
STAGES = ("validated", "merged", "rejects", "securities", "corporate_actions", "flags", "run")

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE prices (
            symbol      VARCHAR   NOT NULL,
            date        DATE      NOT NULL,
            open        DOUBLE,
            high        DOUBLE,
            low         DOUBLE,
            close       DOUBLE    NOT NULL,
            volume      DOUBLE,
            turnover    DOUBLE,
            trades      BIGINT,
            source      VARCHAR,
            flag        VARCHAR,            -- null | ohlc_repaired | beyond_limit
            repaired    BOOLEAN   NOT NULL DEFAULT false,
            ingested_at TIMESTAMP NOT NULL, -- UTC
            run_id      VARCHAR   NOT NULL,
            PRIMARY KEY (symbol, date)
        );
        CREATE TABLE rejected_prices (
            run_id      VARCHAR   NOT NULL,
            source      VARCHAR,
            line        BIGINT,
            raw         VARCHAR,
            reason      VARCHAR   NOT NULL,
            detail      VARCHAR,
            ingested_at TIMESTAMP NOT NULL
        );
        CREATE TABLE securities (
            symbol          VARCHAR PRIMARY KEY,
            name            VARCHAR,
            sector          VARCHAR,
            instrument_type VARCHAR,
            status          VARCHAR,
            updated_at      TIMESTAMP NOT NULL
        );
        CREATE TABLE corporate_actions (
            symbol            VARCHAR NOT NULL,
            kind              VARCHAR NOT NULL CHECK (kind IN ('bonus', 'rights', 'cash')),
            percent           DOUBLE,
            ratio             VARCHAR,
            issue_price       DOUBLE,
            book_closure_date DATE,
            fiscal_year       VARCHAR,
            source            VARCHAR,
            updated_at        TIMESTAMP NOT NULL
        );
        CREATE TABLE ingestion_runs (
            run_id      VARCHAR PRIMARY KEY,
            source      VARCHAR,
            fmt         VARCHAR,
            rows_read   BIGINT NOT NULL,
            inserted    BIGINT NOT NULL,
            updated     BIGINT NOT NULL,
            unchanged   BIGINT NOT NULL,
            rejected    BIGINT NOT NULL,
            duplicates  BIGINT NOT NULL,
            started_at  TIMESTAMP NOT NULL,
            finished_at TIMESTAMP NOT NULL,
            status      VARCHAR NOT NULL,
            min_date    DATE,
            max_date    DATE,
            symbols     BIGINT NOT NULL
        );
        """,
    ),
    # A released migration is never edited: later changes are new versions. Versions 2-9 hold
    # the tables of the daily run, drift and the model registry (SQL in store/ddl.py).
    (2, DAILY_DDL),
    (3, DRIFT_DDL),
    (4, MODELS_DDL),
    (
        10,
        """
        CREATE TABLE ingested_days (
            date        DATE      NOT NULL,
            source      VARCHAR   NOT NULL,   -- 'api' or the recorded folder backfilled from
            status      VARCHAR   NOT NULL
                        CHECK (status IN ('ok', 'holiday', 'not_yet', 'market_open', 'failed')),
            run_id      VARCHAR,              -- ingestion_runs.run_id of an 'ok' day
            rows_read   BIGINT,
            pages       INTEGER,
            raw_dir     VARCHAR,              -- where the raw API pages of the day were saved
            recorded_at TIMESTAMP NOT NULL,   -- UTC
            PRIMARY KEY (date, source)
        );
        """,
    ),
]

DAY_STATUSES = ("ok", "holiday", "not_yet", "market_open", "failed")
# An upsert may replace a status only with one of at least its rank: a complete day (ok, holiday)
# never goes back to incomplete, and an ok day (its rows are stored) never becomes a holiday.
_DAY_RANK = {"ok": 2, "holiday": 1, "not_yet": 0, "market_open": 0, "failed": 0}

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def _exec(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list:
    """Execute one statement and fetch its whole result (DuckDB wants results consumed)."""
    return con.execute(sql, params).fetchall()


def _frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None
) -> pl.DataFrame:
    """Run a query and return its whole result as a Polars frame."""
    return con.sql(sql, params=params).pl()


def latest_version() -> int:
    """The schema version this code expects."""
    return MIGRATIONS[-1][0]


def _now() -> datetime:
    """Current UTC time as a naive timestamp (stored columns are UTC by convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


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


@dataclass(frozen=True)
class DayRecord:
    """One business day's ingestion outcome, for the `ingested_days` table."""

    date: date
    source: str = "api"
    """'api' or the folder a recorded backfill read; (date, source) is the key."""
    status: str = "ok"
    pages: int | None = None
    raw_dir: str | None = None


def _lock_error(path: Path, exc: duckdb.Error) -> DatabaseLockedError | None:
    """A DatabaseLockedError for DuckDB's lock-conflict IOException, else None."""
    text = str(exc)
    if "Could not set lock" not in text:
        return None
    match = _LOCK_RE.search(text)
    pid = int(match["pid"]) if match else None
    holder = f"PID {pid} ({match['exe']})" if match else "another process"
    return DatabaseLockedError(
        f"database {path} is in use by {holder}. Only one process may have it open for "
        f"writing, and readers must wait while a writer holds it. Wait for that process to "
        f"finish (or stop it: kill {pid if pid else '<pid>'}), or set NEPSE_LOCK_TIMEOUT_S "
        f"to wait longer before giving up.",
        pid=pid,
    )


def _connect(path: Path, *, read_only: bool, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying a lock conflict until `lock_timeout_s` has passed."""
    deadline = time.monotonic() + max(lock_timeout_s, 0.0)
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            locked = _lock_error(path, exc)
            if locked is None:
                if read_only and not path.exists():
                    raise NepseError(
                        f"database {path} does not exist; run a writing command (e.g. ingest) "
                        f"first to create it"
                    ) from exc
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise locked from exc
            log.info("database %s is locked by PID %s; retrying", path, locked.pid)
            time.sleep(min(0.2, remaining))


class Store:
    """An open DuckDB database with the service's schema. Use as a context manager."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self.con = con
        self.path = path
        self.read_only = read_only

    # --- lifecycle ------------------------------------------------------------------------
    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (releases the file lock)."""
        self.con.close()

    def schema_version(self) -> int:
        """Highest applied migration version (0 for a database without the migrations table)."""
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_name = 'schema_migrations' AND table_schema = 'main'"
        ).fetchall()[0][0]
        if not exists:
            return 0
        row = self.con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0]
        return int(row[0] or 0)

    def applied_migrations(self) -> pl.DataFrame:
        """The schema_migrations table, oldest first."""
        return _frame(self.con, "SELECT * FROM schema_migrations ORDER BY version")

    def migrate(self) -> list[int]:
        """Apply the migrations not yet recorded, each in its own transaction; return them."""
        versions = [v for v, _ in MIGRATIONS]
        if versions != sorted(set(versions)):
            raise NepseError(f"MIGRATIONS versions must be strictly increasing, got {versions}")
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        applied = {
            r[0] for r in self.con.execute("SELECT version FROM schema_migrations").fetchall()
        }
        if applied and max(applied) > latest_version():
            raise NepseError(
                f"database {self.path} has schema version {max(applied)}, newer than this code "
                f"({latest_version()}); upgrade nepse-predict"
            )
        done = []
        for version, sql in MIGRATIONS:
            if version in applied:
                continue
            self.con.execute("BEGIN TRANSACTION")
            try:
                self.con.execute(sql)
                self.con.execute("INSERT INTO schema_migrations VALUES (?, ?)", [version, _now()])
                self.con.execute("COMMIT")
            except Exception:
                self.con.execute("ROLLBACK")
                raise
            log.info("applied migration %d to %s", version, self.path)
            done.append(version)
        return done

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
        if self.read_only:
            raise NepseError(f"database {self.path} was opened read-only; cannot ingest")
        stage = on_stage or (lambda _name: None)
        started = _now()
        t0 = time.perf_counter()
        run_id = f"{started:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
        source = source or _describe_sources(read.sources)
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
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
                con.execute(
                    "SELECT p.flag, count(*) FROM prices p "
                    "JOIN _stage s ON p.symbol = s.symbol AND p.date = s.date "
                    "WHERE p.flag IS NOT NULL GROUP BY 1 ORDER BY 1"
                ).fetchall()
            )
            stage("flags")
            clean = quality.clean
            finished = _now()
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
            _exec(
                con,
                # Named columns: later migrations may add columns to this table.
                "INSERT INTO ingestion_runs (run_id, source, fmt, rows_read, inserted, updated, "
                "unchanged, rejected, duplicates, started_at, finished_at, status, min_date, "
                "max_date, symbols) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?)",
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
            con.execute("DROP TABLE IF EXISTS _stage")
            con.execute("COMMIT")
        except BaseException:
            # BaseException too: a KeyboardInterrupt mid-ingest must not leave an open transaction.
            con.execute("ROLLBACK")
            raise
        finally:
            for view in ("_in_prices", "_in_rejects", "_in_securities", "_in_actions"):
                con.unregister(view)
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
        con = self.con
        con.register("_in_prices", quality.clean.to_arrow())
        values = [c for c in PRICE_COLUMNS if c not in ("symbol", "date")]
        changed = " OR ".join(f"i.{c} IS DISTINCT FROM p.{c}" for c in values)
        _exec(
            con,
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
        _exec(
            con,
            f"""
            UPDATE prices SET {assignments}, source = s.source, flag = s.flag,
                   repaired = s.repaired, ingested_at = ?, run_id = ?
            FROM _stage s
            WHERE s.action = 'update' AND prices.symbol = s.symbol AND prices.date = s.date
            """,
            [ts, run_id],
        )
        columns = ", ".join(PRICE_COLUMNS)
        _exec(
            con,
            f"""
            INSERT INTO prices ({columns}, source, flag, repaired, ingested_at, run_id)
            SELECT {columns}, source, flag, repaired, ?, ? FROM _stage
            WHERE action = 'insert' ORDER BY symbol, date
            """,
            [ts, run_id],
        )
        return dict(con.execute("SELECT action, count(*) FROM _stage GROUP BY 1").fetchall())

    def _store_rejects(self, rejects: pl.DataFrame, *, run_id: str, ts: datetime) -> None:
        """Insert rejects not already stored on (source, line, raw, reason)."""
        self.con.register("_in_rejects", rejects.to_arrow())
        _exec(
            self.con,
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
        self.con.register("_in_securities", incoming.to_arrow())
        fields = [c for c in SECURITY_SCHEMA if c != "symbol"]
        merged = ", ".join(f"{c} = coalesce(i.{c}, securities.{c})" for c in fields)
        changed = " OR ".join(
            f"coalesce(i.{c}, securities.{c}) IS DISTINCT FROM securities.{c}" for c in fields
        )
        _exec(
            self.con,
            f"""
            UPDATE securities SET {merged}, updated_at = ?
            FROM _in_securities i WHERE securities.symbol = i.symbol AND ({changed})
            """,
            [ts],
        )
        _exec(
            self.con,
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
        self.con.register("_in_actions", incoming.to_arrow())
        key = " AND ".join(f"c.{k} IS NOT DISTINCT FROM i.{k}" for k in CORPORATE_ACTION_KEY)
        fields = [c for c in CORPORATE_ACTION_SCHEMA if c not in CORPORATE_ACTION_KEY]
        changed = " OR ".join(f"i.{c} IS DISTINCT FROM c.{c}" for c in fields)
        assignments = ", ".join(f"{c} = i.{c}" for c in fields)
        _exec(
            self.con,
            f"""
            UPDATE corporate_actions AS c SET {assignments}, updated_at = ?
            FROM _in_actions i WHERE {key} AND ({changed})
            """,
            [ts],
        )
        columns = ", ".join(CORPORATE_ACTION_SCHEMA)
        _exec(
            self.con,
            f"""
            INSERT INTO corporate_actions ({columns}, updated_at)
            SELECT {columns}, ? FROM _in_actions i
            WHERE NOT EXISTS (SELECT 1 FROM corporate_actions c WHERE {key})
            """,
            [ts],
        )

    def _recompute_flags(self, settings: Settings) -> None:
        """Re-derive `flag` over the whole stored series of every symbol this run changed."""
        _exec(
            self.con,
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

    # --- ingested days ----------------------------------------------------------------------
    def record_day(
        self, day: DayRecord, *, run_id: str | None = None, rows_read: int | None = None
    ) -> str:
        """Upsert a day's status (never downgrading ok/holiday); return the status now stored."""
        if self.read_only:
            raise NepseError(f"database {self.path} was opened read-only; cannot record a day")
        self.con.execute("BEGIN TRANSACTION")
        try:
            stored = self._upsert_day(day, run_id=run_id, rows_read=rows_read, ts=_now())
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        return stored

    def _upsert_day(
        self, day: DayRecord, *, run_id: str | None, rows_read: int | None, ts: datetime
    ) -> str:
        if day.status not in _DAY_RANK:
            raise ValueError(f"day status {day.status!r} is not one of {', '.join(DAY_STATUSES)}")
        row = self.con.execute(
            "SELECT status FROM ingested_days WHERE date = ? AND source = ?",
            [day.date, day.source],
        ).fetchall()
        if row and _DAY_RANK[row[0][0]] > _DAY_RANK[day.status]:
            log.info(
                "%s (%s) stays %s; not replaced by %s", day.date, day.source, row[0][0], day.status
            )
            return row[0][0]
        _exec(
            self.con,
            "INSERT OR REPLACE INTO ingested_days (date, source, status, run_id, rows_read, "
            "pages, raw_dir, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [day.date, day.source, day.status, run_id, rows_read, day.pages, day.raw_dir, ts],
        )
        return day.status

    def ingested_days(self, source: str | None = None) -> pl.DataFrame:
        """The `ingested_days` table (of one source, or all), by date and source."""
        sql, params = "SELECT * FROM ingested_days", []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        return _frame(self.con, sql + " ORDER BY date, source", params)

    def complete_days(self, source: str) -> set[date]:
        """Days of `source` recorded ok or holiday: a resumed backfill skips them."""
        rows = self.con.execute(
            "SELECT date FROM ingested_days WHERE source = ? AND status IN ('ok', 'holiday')",
            [source],
        ).fetchall()
        return {r[0] for r in rows}

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
        return _frame(
            self.con,
            f"SELECT * FROM prices WHERE {' AND '.join(where)} ORDER BY symbol, date",
            params,
        )

    def securities(self) -> pl.DataFrame:
        """The securities master, by symbol."""
        return _frame(self.con, "SELECT * FROM securities ORDER BY symbol")

    def corporate_actions(self) -> pl.DataFrame:
        """Stored corporate actions, by symbol, book-closure date and kind."""
        return _frame(
            self.con,
            "SELECT * FROM corporate_actions ORDER BY symbol, book_closure_date, kind, fiscal_year",
        )

    def rejects(self, run_id: str | None = None) -> pl.DataFrame:
        """Quarantined rows (of one run, or all), by source and line."""
        sql = "SELECT * FROM rejected_prices"
        params: list[Any] = []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        return _frame(self.con, sql + " ORDER BY source, line, reason", params)

    def runs(self) -> pl.DataFrame:
        """Ingestion runs, oldest first."""
        return _frame(self.con, "SELECT * FROM ingestion_runs ORDER BY started_at, run_id")

    def trading_dates(self) -> pl.Series:
        """Every date with at least one stored price, ascending (the calendar, from data)."""
        return _frame(self.con, "SELECT DISTINCT date FROM prices ORDER BY date").to_series()


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


def open_store(path: Path, *, read_only: bool = False, lock_timeout_s: float = 0.0) -> Store:
    """Open (creating and migrating when writable) the DuckDB store at `path`."""
    path = Path(path)
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    con = _connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    store = Store(con, path, read_only=read_only)
    try:
        if read_only:
            version = store.schema_version()
            if version < latest_version():
                raise NepseError(
                    f"database {path} has schema version {version}, this code needs "
                    f"{latest_version()}; run any writing command (e.g. ingest) once to "
                    f"migrate it, then retry"
                )
        else:
            store.migrate()
    except BaseException:
        con.close()
        raise
    return store
