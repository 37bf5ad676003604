"""The paper-trading tables: a rerun of a day replaces it and every later day, nothing before."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.store import open_store

D = [date(2025, 1, 5) + timedelta(days=i) for i in range(4)]


def _ledger(day: date, nav: float) -> pl.DataFrame:
    return pl.DataFrame(
        [{"date": day, "nav": nav, "nav_gross": nav, "cash": nav, "invested": 0.0,
          "n_holdings": 0, "traded": 0.0, "turnover": 0.0, "costs": 0.0, "n_orders": 0,
          "n_filled": 0, "decided": True, "capital": 1e6}]
    )  # fmt: skip


def _orders(day: date, symbol: str) -> pl.DataFrame:
    return pl.DataFrame(
        [{"date": day, "symbol": symbol, "side": "buy", "shares": 10.0, "target_shares": 10.0}]
    )


def test_replace_from_a_day_keeps_earlier_days_only(settings):
    with open_store(settings.database) as st:
        for i, d in enumerate(D):
            st.replace_paper_from(d, {"paper_ledger": _ledger(d, 1e6 + i),
                                      "paper_orders": _orders(d, "A")})  # fmt: skip
        assert st.paper_last_day() == D[3] and st.paper_last_day(before=D[2]) == D[1]
        st.replace_paper_from(D[1], {"paper_ledger": _ledger(D[1], 5.0)})
        led = st.paper_rows("paper_ledger")
        assert led["date"].to_list() == D[:2] and led["nav"].to_list() == [1e6, 5.0]
        assert st.paper_rows("paper_orders")["date"].to_list() == [D[0]]
        assert st.paper_rows("paper_ledger", D[1], D[1])["created_at"].null_count() == 0


def test_a_failed_replace_changes_nothing(settings):
    with open_store(settings.database) as st:
        st.replace_paper_from(D[0], {"paper_ledger": _ledger(D[0], 1.0)})
        bad = _orders(D[1], "A").with_columns(side=pl.lit("short"))  # not buy/sell/hold
        with pytest.raises(Exception, match=r"(?i)constraint"):
            st.replace_paper_from(D[0], {"paper_ledger": _ledger(D[1], 2.0), "paper_orders": bad})
        assert st.paper_rows("paper_ledger")["nav"].to_list() == [1.0]
        with pytest.raises(ValueError, match="not paper tables"):
            st.replace_paper_from(D[0], {"prices": _ledger(D[0], 1.0)})
