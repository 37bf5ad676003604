"""LightGBM imported lean (nepse.model._lightgbm): without scikit-learn and pandas, same booster."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # fresh interpreters importing LightGBM (tests/conftest.py)

PROBE = r"""
import json, sys
import numpy as np
{first}
from nepse.model._lightgbm import lgb
rng = np.random.default_rng(3)
x = rng.normal(size=(400, 5))
y = x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.1, size=400)
params = {{"objective": "regression", "num_threads": 1, "deterministic": True,
          "force_row_wise": True, "seed": 3, "verbose": -1}}
booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=20)
hidden_then = {{n: n in sys.modules for n in ("sklearn", "pandas")}}
import pandas, sklearn  # the rest of the process imports them as usual
print(json.dumps({{"hidden_then": hidden_then, "sklearn_wrapper": lgb.compat.SKLEARN_INSTALLED,
                  "pred": booster.predict(x[:10]).tolist()}}))
"""


def _probe(first: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, "-c", PROBE.format(first=first)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(
    platform.machine().lower() not in {"x86_64", "amd64"},
    reason="the lean import is x86-64 only (LightGBM issue #6509 on aarch64)",
)
def test_lean_import_skips_sklearn_and_pandas_and_predicts_the_same():
    lean = _probe()
    assert lean["hidden_then"] == {"sklearn": False, "pandas": False}
    assert lean["sklearn_wrapper"] is False
    full = _probe("import sklearn, pandas, lightgbm")  # already imported: a plain import
    assert full["sklearn_wrapper"] is True
    assert lean["pred"] == full["pred"]  # same library, same numbers, bit for bit
