"""Source-aware prices: every source's rows kept as received, `prices` resolved from them.

`price_observations` is append-only: each ingested row is one observation of (symbol, date) by a
source *kind* (the format: nepse_api, nepse_today_price, sharesansar_prices, nepalstock_legacy,
...). A kind that sends a (symbol, date) again with other values supersedes its own earlier
observation (`superseded_by` = the correcting run); nothing is deleted.

`prices` holds, per (symbol, date) and per column, the value of the first kind in the column's
precedence (`Settings.source_precedence`, per-column overrides in
`source_precedence_by_column`) whose current observation has a value there: a missing value
never overwrites a present one, and the result does not depend on the order of ingestion.
Kinds not listed rank after every listed kind, by name. Where current observations of
different kinds disagree by more than `conflict_tolerance` (relative), `price_conflicts` holds
both values. The mixed row is made consistent: high/low are widened to contain open and close
(flag `ohlc_repaired`), as one source's repair would be.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from nepse.schema import KEYS, OHLC_REPAIRED, PRICE_COLUMNS
from nepse.settings import Settings
from nepse.store.base import StoreBase

VALUES = tuple(c for c in PRICE_COLUMNS if c not in KEYS)
# Rows stored before observations existed (migration 6) rank after every real source.
STORED_KIND = "stored"


def precedence(settings: Settings, kinds: list[str], column: str) -> dict[str, int]:
    """kind -> rank (0 = preferred) for `column`: listed kinds first, then the rest by name."""
    listed = list(settings.source_precedence_by_column.get(column, settings.source_precedence))
    rest = sorted(k for k in kinds if k not in listed and k != STORED_KIND)
    order = [*listed, *rest, STORED_KIND]
    return {k: i for i, k in enumerate(order)}


class ObservationsMixin(StoreBase):
    """The observations table and the resolution of `prices` from it."""

    def _observe(self, clean: pl.DataFrame, *, run_id: str, ts: datetime) -> dict[str, int]:
        """Append this run's rows as observations; count insert/update/same per source kind."""
        self._register("_in_prices", clean)
        changed = " OR ".join(f"i.{c} IS DISTINCT FROM o.{c}" for c in VALUES)
        repaired = f"coalesce(i.flag = '{OHLC_REPAIRED}', false)"
        self._exec(
            f"""
            CREATE OR REPLACE TEMP TABLE _stage AS
            SELECT i.*, {repaired} AS repaired,
                   CASE WHEN o.symbol IS NULL THEN 'insert'
                        WHEN {changed} OR o.repaired IS DISTINCT FROM {repaired} THEN 'update'
                        ELSE 'same' END AS action
            FROM _in_prices i
            LEFT JOIN price_observations o
              ON o.symbol = i.symbol AND o.date = i.date AND o.kind = i.kind
             AND o.superseded_by IS NULL
            """
        )
        self._exec(
            """
            UPDATE price_observations SET superseded_by = ?
            FROM _stage s
            WHERE s.action = 'update' AND price_observations.superseded_by IS NULL
              AND price_observations.symbol = s.symbol AND price_observations.date = s.date
              AND price_observations.kind = s.kind
            """,
            [run_id],
        )
        columns = ", ".join(PRICE_COLUMNS)
        self._exec(
            f"""
            INSERT INTO price_observations ({columns}, kind, source, line, repaired, run_id,
                                            ingested_at, superseded_by)
            SELECT {columns}, kind, source, line, repaired, ?, ?, NULL FROM _stage
            WHERE action <> 'same'
            """,
            [run_id, ts],
        )
        return dict(self._exec("SELECT action, count(*) FROM _stage GROUP BY 1"))

    def _resolve(self, settings: Settings, *, run_id: str, ts: datetime) -> int:
        """Re-resolve `prices` for the keys this run observed anew; return rows changed."""
        kinds = [r[0] for r in self._exec("SELECT DISTINCT kind FROM price_observations")]
        ranks = pl.DataFrame(
            {"kind": kinds}
            | {f"r_{c}": [precedence(settings, kinds, c)[k] for k in kinds] for c in VALUES},
            schema={"kind": pl.String()} | {f"r_{c}": pl.Int64() for c in VALUES},
        )
        self._register("_ranks", ranks)
        # Most keys have one current observation (one source): they resolve to it as it is.
        # Only keys where other kinds also hold a current observation need the per-column pick.
        self._exec(
            """
            CREATE OR REPLACE TEMP TABLE _multi AS
            SELECT DISTINCT o.symbol, o.date
            FROM price_observations o
            JOIN _stage s ON o.symbol = s.symbol AND o.date = s.date
            WHERE s.action <> 'same' AND o.kind <> s.kind AND o.superseded_by IS NULL
            """
        )
        self._exec(
            """
            CREATE OR REPLACE TEMP TABLE _cur AS
            SELECT o.*, r.* EXCLUDE (kind)
            FROM price_observations o
            JOIN _multi k ON o.symbol = k.symbol AND o.date = k.date
            JOIN _ranks r ON r.kind = o.kind
            WHERE o.superseded_by IS NULL
            """
        )
        picks = ", ".join(
            f"arg_min({c}, r_{c}) FILTER (WHERE {c} IS NOT NULL) AS {c}, "
            f"arg_min(kind, r_{c}) FILTER (WHERE {c} IS NOT NULL) AS k_{c}"
            for c in VALUES
        )
        single = ", ".join(
            f"s.{c}, CASE WHEN s.{c} IS NOT NULL THEN s.kind END AS k_{c}" for c in VALUES
        )
        self._exec(
            f"""
            CREATE OR REPLACE TEMP TABLE _resolved AS
            SELECT s.symbol, s.date, {single}, s.source, s.repaired AS c_repaired
            FROM _stage s
            WHERE s.action <> 'same'
              AND NOT EXISTS (SELECT 1 FROM _multi m WHERE m.symbol = s.symbol AND m.date = s.date)
            UNION ALL
            SELECT symbol, date, {picks}, arg_min(source, r_close) AS source,
                   arg_min(repaired, r_close) AS c_repaired
            FROM _cur GROUP BY symbol, date
            """
        )
        self._record_conflicts(settings.conflict_tolerance, run_id=run_id, ts=ts)
        others = ", ".join(c for c in VALUES if c not in ("high", "low"))
        self._exec(
            f"""
            CREATE OR REPLACE TEMP TABLE _pstage AS
            WITH w AS (
                SELECT symbol, date, {others}, source,
                       CASE WHEN high IS NOT NULL THEN greatest(high, open, close) END AS high,
                       CASE WHEN low IS NOT NULL THEN least(low, open, close) END AS low,
                       c_repaired OR coalesce(greatest(high, open, close) <> high, false)
                           OR coalesce(least(low, open, close) <> low, false) AS repaired
                FROM _resolved
            )
            SELECT w.*, CASE WHEN p.symbol IS NULL THEN 'insert'
                             WHEN {" OR ".join(f"w.{c} IS DISTINCT FROM p.{c}" for c in VALUES)}
                                  OR w.source IS DISTINCT FROM p.source
                                  OR w.repaired IS DISTINCT FROM p.repaired THEN 'update'
                             ELSE 'same' END AS action
            FROM w LEFT JOIN prices p ON p.symbol = w.symbol AND p.date = w.date
            """
        )
        flag = f"CASE WHEN s.repaired THEN '{OHLC_REPAIRED}' END"
        assignments = ", ".join(f"{c} = s.{c}" for c in VALUES)
        self._exec(
            f"""
            UPDATE prices SET {assignments}, source = s.source, flag = {flag},
                   repaired = s.repaired, ingested_at = ?, run_id = ?
            FROM _pstage s
            WHERE s.action = 'update' AND prices.symbol = s.symbol AND prices.date = s.date
            """,
            [ts, run_id],
        )
        columns = ", ".join(PRICE_COLUMNS)
        self._exec(
            f"""
            INSERT INTO prices ({columns}, source, flag, repaired, ingested_at, run_id)
            SELECT {columns}, source, {flag}, repaired, ?, ? FROM _pstage s
            WHERE action = 'insert' ORDER BY symbol, date
            """,
            [ts, run_id],
        )
        return self._exec("SELECT count(*) FROM _pstage WHERE action <> 'same'")[0][0]

    def _record_conflicts(self, tolerance: float, *, run_id: str, ts: datetime) -> None:
        """Replace the conflicts of the re-resolved keys with those of the current observations."""
        self._exec(
            "DELETE FROM price_conflicts WHERE EXISTS (SELECT 1 FROM _stage r "
            "WHERE r.action <> 'same' AND r.symbol = price_conflicts.symbol "
            "AND r.date = price_conflicts.date)"
        )
        parts = [
            f"""
            SELECT c.symbol, c.date, '{col}', r.k_{col}, r.{col}, c.kind, c.{col}
            FROM _cur c JOIN _resolved r ON r.symbol = c.symbol AND r.date = c.date
            WHERE c.{col} IS NOT NULL AND c.kind <> r.k_{col}
              AND abs(c.{col} - r.{col}) > {float(tolerance)!r} * greatest(abs(r.{col}),
                                                                         abs(c.{col}), 1e-12)
            """
            for col in VALUES
        ]
        self._exec(
            "INSERT INTO price_conflicts SELECT *, ?, ? FROM (" + " UNION ALL ".join(parts) + ")",
            [run_id, ts],
        )

    # --- readers --------------------------------------------------------------------------
    def observations(self, *, current_only: bool = False) -> pl.DataFrame:
        """Every observation (or only the current ones), by symbol, date, kind, run."""
        where = "WHERE superseded_by IS NULL" if current_only else ""
        return self._frame(
            f"SELECT * FROM price_observations {where} "
            "ORDER BY symbol, date, kind, ingested_at, run_id"
        )

    def conflicts(self, run_id: str | None = None) -> pl.DataFrame:
        """Disagreements between sources beyond the tolerance, by symbol, date, column."""
        sql, params = "SELECT * FROM price_conflicts", []
        if run_id is not None:
            sql += " WHERE run_id = ?"
            params.append(run_id)
        return self._frame(sql + ' ORDER BY symbol, date, "column", other_kind', params)

    def conflict_counts(self, run_id: str) -> dict[str, int]:
        """Conflicts per column found by run `run_id`."""
        rows = self._exec(
            'SELECT "column", count(*) FROM price_conflicts WHERE run_id = ? GROUP BY 1 ORDER BY 1',
            [run_id],
        )
        return dict(rows)
