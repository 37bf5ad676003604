"""Promotion also judges the backtest's net excess vs every baseline and the champion."""

from __future__ import annotations

import json

from nepse.model.registry import _decide
from nepse.settings import load_settings

S = load_settings()
BASE = {"ridge": 0.05, "zero": None}


def test_rank_ic_alone_when_no_backtest():
    ok, _ = _decide(0.10, None, BASE, S)
    assert ok


def test_refused_when_a_baseline_earns_more_after_costs():
    ok, reason = _decide(
        0.10, None, BASE, S, excess={"lightgbm": -0.02, "ridge": 0.01, "zero": None}
    )
    assert not ok and "ridge" in reason and "net excess" in reason


def test_refused_when_the_champion_earned_more():
    champ = {"version": "v0", "rank_ic": 0.08, "metrics": json.dumps({"backtest_net_excess": 0.05})}
    ok, reason = _decide(0.10, champ, BASE, S, excess={"lightgbm": 0.03, "ridge": 0.01})
    assert not ok and "champion" in reason
    ok, _ = _decide(0.10, champ, BASE, S, excess={"lightgbm": 0.06, "ridge": 0.01})
    assert ok
