"""Today's walk-forward and final model give main's numbers (frozen before the refactor) to 1e-9."""

from __future__ import annotations

import json
import math

import pytest

from tests.unit.model import frozen

TOL = 1e-9


def assert_close(got, want, path="") -> None:
    """Recursive equality with floats compared to TOL (absolute and relative); None == NaN."""
    if isinstance(want, dict):
        assert set(got) == set(want), path
        for k in want:
            assert_close(got[k], want[k], f"{path}.{k}")
    elif isinstance(want, list | tuple):
        assert len(got) == len(want), path
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, f"{path}[{i}]")
    elif isinstance(want, float) or isinstance(got, float):
        if want is None or (isinstance(want, float) and math.isnan(want)):
            assert got is None or math.isnan(got), path
        else:
            assert got == pytest.approx(want, rel=TOL, abs=TOL), path
    else:
        assert got == want, path


@pytest.fixture(scope="module")
def expected():
    return json.loads(frozen.FROZEN.read_text())


@pytest.mark.parametrize("window", frozen.WINDOWS)
def test_walk_forward_and_final_model_equal_mains(expected, window):
    got = json.loads(json.dumps(frozen.compute(window), default=str))
    assert_close(got, expected[window], window)
