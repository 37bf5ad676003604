"""The stored `beyond_limit` flag agrees with nepse/market/rules.toml, on every row, always."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

import nepse.store.prices as store_prices
from nepse.ingest.service import ingest_read
from nepse.market.rules import LIMIT_TOLERANCE, RULES_FILE, MarketRules, market_rules
from nepse.schema import BEYOND_LIMIT, OHLC_REPAIRED, ReadResult
from nepse.store import open_store

TODAY = date(2026, 5, 30)
CHANGE = date(2026, 4, 20)  # the rules' move from +-10 % to +-15 % (checked below)


def rules_flags(prices: pl.DataFrame, rules: MarketRules | None = None) -> pl.Series:
    """What `flag` must be on each stored row (sorted by symbol, date) by the rules."""
    r = rules or market_rules()
    move = (pl.col("close") / pl.col("close").shift(1).over("symbol") - 1).abs()
    return (
        prices.sort("symbol", "date")
        .select(
            pl.when(move > r.price_limit_expr() + LIMIT_TOLERANCE)
            .then(pl.lit(BEYOND_LIMIT))
            .when(pl.col("repaired"))
            .then(pl.lit(OHLC_REPAIRED))
            .otherwise(pl.lit(None, pl.String))
            .alias("flag")
        )
        .to_series()
    )


def assert_flags_follow_the_rules(db: Path, rules: MarketRules | None = None) -> pl.DataFrame:
    """Every stored row's flag equals the rules' verdict; returns the stored rows."""
    with open_store(db, read_only=True) as st:
        stored = st.prices().sort("symbol", "date")
    want = rules_flags(stored, rules)
    bad = stored.with_columns(want=want).filter(pl.col("flag").ne_missing(pl.col("want")))
    assert bad.is_empty(), bad.select("symbol", "date", "close", "flag", "want")
    return stored


def _read(rows: list[tuple[str, date, float]]) -> ReadResult:
    closes = [float(c) for _, _, c in rows]
    frame = pl.DataFrame(
        {
            "symbol": [s for s, _, _ in rows],
            "date": [d for _, d, _ in rows],
            "open": closes,
            "high": [c * 1.01 for c in closes],
            "low": [c * 0.99 for c in closes],
            "close": closes,
            "volume": [100.0] * len(rows),
        }
    )
    return ReadResult(fmt="test", prices=frame, sources=["f.csv"])


def _series(symbol: str, start: date, closes: list[float]) -> list[tuple[str, date, float]]:
    return [(symbol, start + timedelta(days=i), c) for i, c in enumerate(closes)]


# Moves straddling the change: 12 % is beyond the old limit and within the new one; 16 % beyond
# both; exactly 10 % (and 15 % after the change) is a limit-hit day, not beyond.
ROWS = (
    # 04-14 .. 04-19: +12 %, -10.7 %, +10 %, +16 %, +0.3 %
    _series("BEFORE", CHANGE - timedelta(days=6), [100, 112, 100, 110, 127.6, 128])
    # 04-17 .. 04-23: +12 %, +0.9 %, +12 % (on 04-20), -16 %, +12 %, +10 %
    + _series("ACROSS", CHANGE - timedelta(days=3), [100, 112, 113, 126.56, 106.31, 119.07, 130.97])
    # 04-20 .. 04-25: +12 %, -14 %, +16 %, -10.5 %, +15 %
    + _series("AFTER", CHANGE, [100, 112, 96.32, 111.73, 100, 115])
)


def _ingest(db: Path, settings, rows=ROWS) -> None:
    with open_store(db) as st:
        ingest_read(st, _read(rows), settings=settings, today=TODAY).check_identity()


def test_the_rules_change_the_limit_on_2026_04_20():
    assert market_rules().changes("price_limit")[-1] == CHANGE
    assert (
        market_rules().price_limit(CHANGE - timedelta(days=1))
        < 0.12
        < (market_rules().price_limit(CHANGE))
    )


def test_every_stored_flag_equals_the_rules_on_both_sides_of_the_change(settings):
    _ingest(settings.database, settings)
    stored = assert_flags_follow_the_rules(settings.database)
    flags = {(r["symbol"], r["date"]): r["flag"] for r in stored.iter_rows(named=True)}
    day = {n: CHANGE + timedelta(days=n) for n in range(-5, 6)}
    # The same 12 % move: beyond the limit on 04-18, a normal day on 04-20.
    assert flags["ACROSS", day[-2]] == BEYOND_LIMIT
    assert flags["ACROSS", day[0]] is None
    assert flags["ACROSS", day[1]] == BEYOND_LIMIT  # -16 %
    assert flags["BEFORE", day[-3]] is None  # +10 % exactly
    assert flags["AFTER", day[5]] is None  # +15 % exactly
    beyond = sorted((s, d) for (s, d), f in flags.items() if f == BEYOND_LIMIT)
    assert beyond == [
        ("ACROSS", day[-2]),
        ("ACROSS", day[1]),
        ("AFTER", day[3]),
        ("BEFORE", day[-5]),
        ("BEFORE", day[-4]),
        ("BEFORE", day[-2]),
    ]


def test_a_database_whose_flags_disagree_is_recomputed_on_a_writable_open(settings, caplog):
    db = settings.database
    _ingest(db, settings)
    # A database written before the flags were tied to the rules (e.g. with a price_limit_*
    # setting of 0.20 from 2026-04-20): wrong flags and no record of the limits used.
    with open_store(db) as st:
        wrong = "UPDATE prices SET flag = NULL WHERE flag = 'beyond_limit' AND date >= ?"
        st._exec(wrong, [CHANGE])
        st._exec("DELETE FROM store_meta WHERE key = 'price_limits'")
    with caplog.at_level(logging.WARNING), open_store(db, read_only=True) as st:
        assert not st.flags_in_sync()
    assert "beyond_limit flags were computed with other price limits" in caplog.text
    with open_store(db) as st:
        assert st.flags_in_sync()
        assert st.sync_flags() == 0  # already done by the open
    assert_flags_follow_the_rules(db)


def test_edited_rules_recompute_every_flag(settings, monkeypatch, tmp_path):
    db = settings.database
    _ingest(db, settings)
    # rules.toml gains a limit of 20 % from 2026-04-22: the -16 % and +16 % days after it are
    # normal now, and a writable open must say so without any new prices.
    text = RULES_FILE.read_text(encoding="utf-8") + (
        '\n[[price_limit]]\nfrom = 2026-04-22\nlimit = 0.20\nsource = "test"\n'
    )
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    edited = MarketRules.from_file(path)
    before = assert_flags_follow_the_rules(db)
    monkeypatch.setattr(store_prices, "market_rules", lambda: edited)
    with open_store(db) as st:
        assert st.flags_in_sync()
    after = assert_flags_follow_the_rules(db, edited)
    changed = before.join(after, on=["symbol", "date"]).filter(
        pl.col("flag").ne_missing(pl.col("flag_right"))
    )
    assert changed.select("symbol", "date").rows() == [("AFTER", CHANGE + timedelta(days=3))]
    monkeypatch.undo()
    with open_store(db) as st:  # back to the shipped rules: recomputed back
        assert st.flags_in_sync()
    assert_flags_follow_the_rules(db)


@pytest.mark.parametrize("later", [False, True])
def test_flags_follow_the_rules_when_rows_arrive_out_of_order(settings, later):
    db = settings.database
    rows = list(ROWS)
    first, second = rows[::2], rows[1::2]
    _ingest(db, settings, second if later else first)
    _ingest(db, settings, first if later else second)
    assert_flags_follow_the_rules(db)
