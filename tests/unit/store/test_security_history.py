"""The securities master in time: a past day's universe includes symbols delisted later."""

from __future__ import annotations

from datetime import date

import polars as pl

from nepse.features.panel import in_universe, universe
from nepse.ingest.service import ingest_read
from nepse.schema import ReadResult
from nepse.store import open_store

D1, D2, D3, D4 = date(2025, 8, 24), date(2025, 8, 25), date(2025, 8, 26), date(2025, 8, 27)


def read(rows, securities) -> ReadResult:
    frame = pl.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "date": [r[1] for r in rows],
            "open": [100.0] * len(rows),
            "high": [101.0] * len(rows),
            "low": [99.0] * len(rows),
            "close": [100.0] * len(rows),
            "volume": [10.0] * len(rows),
            "source": ["written-by-the-test.csv"] * len(rows),
            "line": list(range(2, len(rows) + 2)),
        }
    )
    master = pl.DataFrame(
        securities, schema=["symbol", "name", "sector", "instrument_type", "status"], orient="row"
    )
    return ReadResult(
        fmt="canonical", prices=frame, securities=master, sources=["written-by-the-test.csv"]
    )


LIST = [
    ("ACTIVE", "Active Bank", "Commercial Banks", "Equity", "A"),
    ("OLDCO", "Old Company", "Finance", "Equity", "D"),  # delisted after its last trade (D2)
    ("BOND", "Some Debenture", "Corporate Debentures", "Debenture", "A"),
]
ROWS = [("ACTIVE", d) for d in (D1, D2, D3)] + [("OLDCO", D1), ("OLDCO", D2), ("BOND", D3)]


def test_a_past_days_universe_includes_symbols_delisted_later(settings):
    with open_store(settings.database) as store:
        report = ingest_read(store, read(ROWS, LIST), settings=settings, today=D4)
        assert report.securities == {"read": 3, "new": 3, "changed": 0, "unchanged": 0}
        assert "| securities list | rows |" in report.to_markdown()
        history = store.security_history()
        on_d1 = store.securities_as_of(D1)
        on_d3 = store.securities_as_of(D3)
        master = store.securities()
    old = history.filter(pl.col("symbol") == "OLDCO")
    assert old.select("status", "valid_from", "valid_to", "source").rows() == [
        ("A", None, D2, "inferred"),  # active up to its last stored price
        ("D", D3, None, "written-by-the-test.csv"),
    ]
    assert dict(on_d1.select("symbol", "status").iter_rows())["OLDCO"] == "A"
    assert dict(on_d3.select("symbol", "status").iter_rows())["OLDCO"] == "D"

    panel = pl.LazyFrame(
        {"symbol": [r[0] for r in ROWS], "date": [r[1] for r in ROWS], "f_x": [1.0] * len(ROWS)}
    )
    kept = in_universe(panel, master, history, active_only=True).collect()
    assert kept.select("symbol", "date").rows() == [
        ("ACTIVE", D1), ("ACTIVE", D2), ("ACTIVE", D3), ("OLDCO", D1), ("OLDCO", D2),
    ]  # fmt: skip
    # The master as last seen drops OLDCO from every day: the survivorship this fixes.
    legacy = panel.filter(universe(master, active_only=True)).collect()
    assert "OLDCO" not in legacy["symbol"].to_list()


def test_a_changed_list_closes_the_old_version(settings):
    with open_store(settings.database) as store:
        ingest_read(store, read(ROWS, LIST), settings=settings, today=D4)
        suspended = pl.DataFrame(
            [("ACTIVE", None, None, None, "S")],
            schema=["symbol", "name", "sector", "instrument_type", "status"],
            orient="row",
        )
        counts = store.record_securities(suspended, as_of=D4, source="exchange")
        again = store.record_securities(suspended, as_of=date(2025, 8, 28), source="exchange")
        history = store.security_history().filter(pl.col("symbol") == "ACTIVE")
    assert counts == {"new": 0, "changed": 1, "unchanged": 0}
    assert again == {"new": 0, "changed": 0, "unchanged": 1}
    assert history.select("status", "valid_from", "valid_to", "last_seen").rows() == [
        ("A", None, D3, D3),
        ("S", D4, None, date(2025, 8, 28)),
    ]
    # The exchange's list for a suspended security leaves instrument type out: the universe
    # takes it from the earlier version, and a suspended day is out of the active universe.
    panel = pl.LazyFrame({"symbol": ["ACTIVE", "ACTIVE"], "date": [D3, D4]})
    master = pl.DataFrame(
        [("ACTIVE", "Active Bank", "Commercial Banks", "Equity", "S")],
        schema=["symbol", "name", "sector", "instrument_type", "status"],
        orient="row",
    )
    active = in_universe(panel, master, history, active_only=True).collect()
    every = in_universe(panel, master, history, active_only=False).collect()
    assert active["date"].to_list() == [D3]
    assert every["date"].to_list() == [D3, D4]
