"""Tables of the paper-trading record: `paper_ledger`, `paper_holdings`, `paper_trades`,
`paper_orders` (one row per session, lot, order sent and order made; nepse/portfolio/paper.py).

A rerun of a day replaces that day and every later one in all four tables at once, so the
record never holds a day computed from a state that was later replaced.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from nepse.schema import (
    PAPER_HOLDING_SCHEMA,
    PAPER_LEDGER_SCHEMA,
    PAPER_ORDER_SCHEMA,
    PAPER_TRADE_SCHEMA,
    conform,
)
from nepse.store.base import StoreBase, now_utc

PAPER_TABLES = {
    "paper_ledger": PAPER_LEDGER_SCHEMA,
    "paper_holdings": PAPER_HOLDING_SCHEMA,
    "paper_trades": PAPER_TRADE_SCHEMA,
    "paper_orders": PAPER_ORDER_SCHEMA,
}


class PaperMixin(StoreBase):
    """The paper portfolio's record, and the listing dates the tradeable universe needs."""

    def replace_paper_from(self, day: date, frames: dict[str, pl.DataFrame]) -> None:
        """Delete every paper row dated `day` or later, then insert `frames` (table -> rows)."""
        self._require_writable("store the paper ledger")
        unknown = set(frames) - set(PAPER_TABLES)
        if unknown:
            raise ValueError(f"not paper tables: {sorted(unknown)}")
        views: dict[str, tuple[str, list[str]]] = {}
        for table, frame in frames.items():
            if frame.is_empty():
                continue
            rows = conform(frame, PAPER_TABLES[table])
            cols = list(PAPER_TABLES[table])
            if table == "paper_ledger":
                rows = rows.with_columns(created_at=pl.lit(now_utc()))
                cols.append("created_at")
            self._register(f"_{table}", rows)
            views[table] = (f"_{table}", cols)
        # Views are registered outside the transaction: a failed insert aborts it, and the
        # clean-up must not hide the insert's own error.
        try:
            with self.transaction():
                for table in PAPER_TABLES:
                    self._exec(f"DELETE FROM {table} WHERE date >= ?", [day])
                for table, (view, cols) in views.items():
                    names = ", ".join(cols)
                    self._exec(f"INSERT INTO {table} ({names}) SELECT {names} FROM {view}")
        finally:
            self._unregister(*(v for v, _ in views.values()))

    def paper_rows(
        self, table: str, start: date | None = None, end: date | None = None
    ) -> pl.DataFrame:
        """Rows of paper table `table` dated start..end (inclusive), by date and symbol."""
        if table not in PAPER_TABLES:
            raise ValueError(f"not a paper table: {table!r}; one of {sorted(PAPER_TABLES)}")
        order = "date" if table == "paper_ledger" else "date, symbol"
        return self._select(table, order, start=start, end=end)

    def paper_last_day(self, before: date | None = None) -> date | None:
        """The last ledger day (before `before`, if given), or None for an empty ledger."""
        sql, params = "SELECT max(date) FROM paper_ledger", []
        if before is not None:
            sql += " WHERE date < ?"
            params.append(before)
        return self._exec(sql, params)[0][0]

    def first_trade_dates(self) -> pl.DataFrame:
        """Per symbol, the first stored date with a trade (symbol, listed)."""
        return self._frame(
            "SELECT symbol, min(date) AS listed FROM prices WHERE coalesce(turnover, 0) > 0 "
            "GROUP BY symbol ORDER BY symbol"
        )
