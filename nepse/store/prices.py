"""Writing validated prices in one transaction, the `beyond_limit` flags, and the price readers.

The store receives data already validated (nepse/ingest/service.py runs the quality rules):
`write_validated` stores observations -> resolves `prices` -> stores rejects -> upserts
securities -> upserts corporate actions -> recomputes `beyond_limit` flags, calling
`on_stage(name)` after each (STAGES), inside the caller's `transaction()`.

Flags: `prices.repaired` records that high/low were widened (`ohlc_repaired`); `prices.flag`
is derived from it and the close-to-close move. When both apply, `beyond_limit` wins in `flag`,
because it is the flag that decides whether the day's return may be used (it may not); the
repair is still recorded in `repaired`, so the flag can be recomputed losslessly when later
rows change the series.

`beyond_limit` compares the move with the limit in force on the row's date, taken from the dated
`[[price_limit]]` table of nepse/market/rules.toml (the only home of that fact). The limits the
stored flags were computed with are recorded in `store_meta` (key `price_limits`); a writable
open whose rules differ (an edited rules.toml, or a database from before this record) recomputes
every flag in one transaction (`sync_flags`), so a stored flag always agrees with the rules.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import polars as pl

from nepse.market.rules import LIMIT_TOLERANCE, market_rules
from nepse.schema import BEYOND_LIMIT, OHLC_REPAIRED
from nepse.settings import Settings
from nepse.store.base import StoreBase, now_utc
from nepse.store.observations import ObservationsMixin
from nepse.store.reference import ReferenceMixin
from nepse.store.runs import RunsMixin

log = logging.getLogger(__name__)

FLAG_LIMITS_KEY = "price_limits"
"""store_meta key: the price-limit periods (and tolerance) the stored flags were computed with."""
# Stages of an ingest, in order; `on_stage(name)` is called after each one.
STAGES = ("validated", "merged", "rejects", "securities", "corporate_actions", "flags", "run")


@dataclass(frozen=True)
class WriteCounts:
    """What `write_validated` changed: observation outcomes, resolved rows, flags, conflicts."""

    actions: dict[str, int] = field(default_factory=dict)
    """Observations per outcome: insert (new for this source), update (corrected), same."""
    prices_changed: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    conflicts: dict[str, int] = field(default_factory=dict)


class PricesMixin(ObservationsMixin, ReferenceMixin, RunsMixin, StoreBase):
    """Prices (resolved from observations), rejects, reference tables and ingestion runs."""

    def write_validated(
        self,
        *,
        clean: pl.DataFrame,
        rejects: pl.DataFrame,
        securities: pl.DataFrame,
        corporate_actions: pl.DataFrame,
        dataset: str,
        settings: Settings,
        run_id: str,
        ts: datetime,
        on_stage: Callable[[str], None] | None = None,
    ) -> WriteCounts:
        """Store one validated input; must run inside `transaction()` (the caller's unit)."""
        self._require_writable("ingest")
        if not self._depth:
            raise RuntimeError("write_validated must run inside store.transaction()")
        stage = on_stage or (lambda _name: None)
        try:
            self.claim_dataset(dataset, ts=ts)
            actions = self._observe(clean, run_id=run_id, ts=ts)
            changed = self._resolve(settings, run_id=run_id, ts=ts)
            stage("merged")
            self._store_rejects(rejects, run_id=run_id, ts=ts)
            stage("rejects")
            self._upsert_securities(securities, ts=ts)
            stage("securities")
            self._upsert_corporate_actions(corporate_actions, ts=ts)
            stage("corporate_actions")
            self._recompute_flags(
                "symbol IN (SELECT DISTINCT symbol FROM _pstage WHERE action <> 'same')"
            )
            flagged = dict(
                self._exec(
                    "SELECT p.flag, count(*) FROM prices p "
                    "JOIN _stage s ON p.symbol = s.symbol AND p.date = s.date "
                    "WHERE p.flag IS NOT NULL GROUP BY 1 ORDER BY 1"
                )
            )
            stage("flags")
            conflicts = self.conflict_counts(run_id)
        finally:
            self._unregister("_in_prices", "_in_rejects", "_in_securities", "_in_actions")
            self._unregister("_ranks")
        for temp in ("_stage", "_multi", "_cur", "_resolved", "_pstage"):
            self._exec(f"DROP TABLE IF EXISTS {temp}")
        return WriteCounts(
            actions=actions, prices_changed=changed, flagged=flagged, conflicts=conflicts
        )

    def record_run(self, report: object) -> None:
        """Record a finished ingestion run (an IngestReport) inside the caller's transaction."""
        self._require_writable("record a run")
        self._record_run(report)

    def sync_flags(self) -> int:
        """Recompute every stored flag unless it was computed with the rules' current price
        limits; record them. Returns how many rows' flag changed (0 when already in sync)."""
        self._require_writable("recompute the beyond_limit flags")
        wanted = _limits_record()
        if self._flag_limits() == wanted:
            return 0
        with self.transaction():
            changed = self._recompute_flags("true")
            self._exec("DELETE FROM store_meta WHERE key = ?", [FLAG_LIMITS_KEY])
            self._exec(
                "INSERT INTO store_meta VALUES (?, ?, ?)", [FLAG_LIMITS_KEY, wanted, now_utc()]
            )
        if changed:
            log.info("%s: %d beyond_limit/ohlc flags recomputed for %s", self.path, changed, wanted)
        return changed

    def flags_in_sync(self) -> bool:
        """True when the stored flags were computed with the rules' current price limits."""
        return self._flag_limits() == _limits_record()

    def _flag_limits(self) -> str | None:
        rows = self._exec("SELECT value FROM store_meta WHERE key = ?", [FLAG_LIMITS_KEY])
        return rows[0][0] if rows else None

    def _recompute_flags(self, scope: str) -> int:
        """Re-derive `flag` over the whole stored series of the symbols in `scope` (a SQL
        condition on `prices`); returns how many rows' flag changed."""
        limit_sql, limit_params = _limit_case()
        rows = self._exec(
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
                           {limit_sql} AS limit_frac
                    FROM prices
                    WHERE {scope}
                )
            ) n
            WHERE prices.symbol = n.symbol AND prices.date = n.date
              AND n.new_flag IS DISTINCT FROM n.old_flag
            """,
            limit_params,
        )
        return rows[0][0] if rows else 0

    # --- readers --------------------------------------------------------------------------
    def prices(
        self,
        symbols: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> pl.DataFrame:
        """Stored prices (optionally some symbols, start..end inclusive), by symbol and date."""
        return self._select("prices", "symbol, date", start=start, end=end, symbol=symbols)

    def trading_dates(self, min_symbols: int = 1) -> pl.Series:
        """Dates with stored prices of at least `min_symbols` symbols, ascending (the calendar)."""
        return self._frame(
            "SELECT date FROM prices GROUP BY date HAVING count(*) >= ? ORDER BY date",
            [min_symbols],
        ).to_series()

    def prices_on(self, days: Sequence[date]) -> pl.DataFrame:
        """Stored prices of the given dates, by symbol and date."""
        return self._select("prices", "symbol, date", date=list(days))

    def rows_on(self, day: date) -> int:
        """Stored price rows dated `day`."""
        return self._exec("SELECT count(*) FROM prices WHERE date = ?", [day])[0][0]

    def missing_on(self, day: date, *, sessions: int = 5) -> list[str]:
        """Regular active equities (priced on each of the `sessions` trading days before `day`;
        suspended, delisted or non-equity symbols of the master excluded) without a price on
        `day`."""
        rows = self._exec(
            self._REGULAR + " SELECT symbol FROM active WHERE NOT EXISTS "
            "(SELECT 1 FROM prices p WHERE p.symbol = active.symbol AND p.date = ?) ORDER BY 1",
            [day, sessions, day],
        )
        return [r[0] for r in rows]

    def regular_on(self, day: date, *, sessions: int = 5) -> int:
        """How many regular active equities `missing_on` compares `day` against."""
        return self._exec(self._REGULAR + " SELECT count(*) FROM active", [day, sessions])[0][0]

    _REGULAR = """
        WITH prev AS (
            SELECT DISTINCT date FROM prices WHERE date < ? ORDER BY date DESC LIMIT ?
        ), regular AS (
            SELECT symbol FROM prices WHERE date IN (SELECT date FROM prev)
            GROUP BY symbol HAVING count(*) = (SELECT count(*) FROM prev)
        ), active AS (
            SELECT r.symbol FROM regular r LEFT JOIN securities s ON s.symbol = r.symbol
            WHERE coalesce(s.status, 'A') = 'A'
              AND coalesce(lower(s.instrument_type), 'equity') = 'equity'
        )
    """


def _limit_case() -> tuple[str, list]:
    """The price limit in force on each row's `date` as one SQL expression, and its parameters,
    from the dated [[price_limit]] table (nested like MarketRules.piecewise)."""
    (_, first), *later = market_rules().periods("price_limit", "limit")
    sql, params = "?::DOUBLE", [float(first)]
    for start, value in later:
        sql, params = f"CASE WHEN date >= ? THEN ?::DOUBLE ELSE {sql} END", [start, value, *params]
    return sql, params


def _limits_record() -> str:
    """What the flags depend on besides the prices: the limit periods and the tolerance."""
    periods = market_rules().periods("price_limit", "limit")
    return json.dumps(
        {"periods": [[d.isoformat(), float(v)] for d, v in periods], "tolerance": LIMIT_TOLERANCE}
    )
