"""The portfolio layer: decision days, the band, the minimum hold, sizing, the sector cap."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from nepse.portfolio.book import Book, Lot, Target
from nepse.portfolio.policy import PortfolioConfig, decide, is_decision_day, week_of

SUN = date(2025, 1, 5)  # a Sunday: NEPSE's week starts on it


def test_weeks_run_sunday_to_saturday():
    assert week_of(SUN) == week_of(SUN + timedelta(days=6)) != week_of(SUN - timedelta(days=1))


@pytest.mark.parametrize(
    ("day", "previous", "cadence", "decides"),
    [
        (SUN, SUN - timedelta(days=3), 1, True),  # Thursday -> Sunday: a new week
        (SUN + timedelta(days=1), SUN, 1, False),  # Monday after Sunday
        (SUN + timedelta(days=1), SUN - timedelta(days=3), 1, True),  # Sunday was a holiday
        (SUN + timedelta(days=8), SUN + timedelta(days=4), 1, True),  # Mon-Fri week: Monday
        (SUN + timedelta(days=1), SUN, 0, True),  # cadence 0: every session
        (SUN, None, 4, True),  # the first session decides
    ],
)
def test_decision_days(day, previous, cadence, decides):
    assert is_decision_day(day, previous, cadence) is decides


def test_a_cadence_of_n_weeks_decides_every_nth_week():
    firsts = [SUN + timedelta(weeks=w) for w in range(8)]
    got = [is_decision_day(d, d - timedelta(days=3), 2) for d in firsts]
    assert sum(got) == 4 and got[::2] != got[1::2]


def _decide(ranked, book, config, *, close=None, turnover=None, sectors=None, held=None):
    return decide(
        SUN,
        ranked,
        book,
        config,
        equity=100_000.0,
        close=close or (lambda s: 100.0),
        turnover=turnover or (lambda s: 1e9),
        held_sessions=held or (lambda b: 100),
        sectors=sectors,
    )


CFG = PortfolioConfig(top_k=2, keep_k=3, min_hold=5, capital=100_000.0)


def test_new_names_get_equal_rupees_in_whole_lots():
    t = _decide(["A", "B", "C"], Book(cash=1e5), CFG, close=lambda s: 70.0)
    assert t.shares == {"A": 710.0, "B": 710.0}  # 50,000 / 70 = 714 -> 71 lots
    assert t.decided_on == SUN


def test_a_holding_is_kept_inside_the_band_with_its_shares():
    book = Book(cash=0.0, lots=(Lot("C", SUN, 300.0, 3e4),), target=Target({"C": 300.0}))
    t = _decide(["A", "B", "C", "D"], book, CFG)  # C ranks 3rd: inside keep_k = 3
    assert t.shares == {"C": 300.0, "A": 500.0}
    out = _decide(["A", "B", "D", "C"], book, CFG)  # 4th: outside, sold
    assert set(out.shares) == {"A", "B"}


def test_a_young_holding_stays_whatever_its_rank():
    book = Book(cash=0.0, lots=(Lot("Z", SUN, 100.0, 1e4),), target=Target({"Z": 100.0}))
    young = _decide(["A", "B", "C"], book, CFG, held=lambda b: 2)
    assert "Z" in young.shares and len(young.shares) == 2
    old = _decide(["A", "B", "C"], book, CFG, held=lambda b: 5)
    assert "Z" not in old.shares


def test_positions_are_capped_by_the_decision_day_turnover():
    # 10 % of Rs 200,000 = Rs 20,000 < 50,000: 200 shares; a name whose cap is under a lot: none.
    turnover = {"A": 200_000.0, "B": 5_000.0, "C": 1e9}.get
    t = _decide(["A", "B", "C"], Book(cash=1e5), CFG, turnover=turnover)
    assert t.shares == {"A": 200.0, "C": 500.0}


def test_capital_left_by_capped_names_spreads_to_more_names():
    cfg = PortfolioConfig(top_k=2, keep_k=2, max_names=4, capital=100_000.0)
    turnover = {"A": 100_000.0, "B": 100_000.0}.get
    t = _decide(["A", "B", "C", "D", "E"], Book(cash=1e5), cfg, turnover=lambda s: turnover(s, 1e9))
    # Rs 10k + 10k (capped at 10 % of turnover) + 50k leave 30k idle: D takes just that.
    assert t.shares == {"A": 100.0, "B": 100.0, "C": 500.0, "D": 300.0}
    narrow = _decide(list("ABCDE"), Book(cash=1e5), CFG, turnover=lambda s: turnover(s, 1e9))
    assert len(narrow.shares) == 2  # max_names unset: top_k names at most


def test_sector_cap():
    cfg = PortfolioConfig(top_k=3, keep_k=3, sector_cap=1, capital=100_000.0)
    sectors = {"A": "bank", "B": "bank", "C": "hydro", "D": "hydro", "E": "life"}
    t = _decide(list("ABCDE"), Book(cash=1e5), cfg, sectors=sectors)
    assert list(t.shares) == ["A", "C", "E"]
