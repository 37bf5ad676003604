"""The hostile tables (nepse/devdata/hostile*.py): every input case gets its outcome with 0 rows
lost and nothing wrong stored; every situation is met in words, nothing wrong stored, no crash."""

from __future__ import annotations

import pytest

from nepse.devdata.hostile import run_case
from nepse.devdata.hostile_cases import CASES
from nepse.devdata.hostile_scenarios import run_scenario
from nepse.devdata.hostile_services import SCENARIOS


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_its_outcome_and_loses_nothing(case, tmp_path):
    result = run_case(case, tmp_path)
    assert result.ok, (case.expect, result.outcome)
    assert result.rows_lost == 0
    if case.expect.startswith("error:"):
        # a refused file is named in the message
        assert str(tmp_path) in result.outcome or "api" in result.outcome


@pytest.mark.parametrize(
    "scenario",
    [pytest.param(s, marks=pytest.mark.slow) if s.slow else s for s in SCENARIOS],
    ids=[s.name for s in SCENARIOS],
)
def test_hostile_situation_is_met_with_words_nothing_wrong_stored_no_crash(scenario, tmp_path):
    result = run_scenario(scenario, tmp_path)
    if result.skipped:
        pytest.skip(result.skipped)
    assert not result.crashed, result.outcome
    assert not result.wrong, result.wrong
    assert scenario.expect in result.outcome, result.outcome
