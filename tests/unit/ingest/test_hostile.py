"""The hostile-input table (nepse/devdata/hostile.py): every case gets its outcome, 0 rows lost."""

from __future__ import annotations

import pytest

from nepse.devdata.hostile import run_case
from nepse.devdata.hostile_cases import CASES


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_gets_its_outcome_and_loses_nothing(case, tmp_path):
    result = run_case(case, tmp_path)
    assert result.ok, (case.expect, result.outcome)
    assert result.rows_lost == 0
    if case.expect.startswith("error:"):
        # a refused file is named in the message
        assert str(tmp_path) in result.outcome or "api" in result.outcome
