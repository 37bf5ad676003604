"""LightGBM, imported without the optional scikit-learn and pandas wrappers the project never uses.

`import lightgbm` imports scikit-learn (for `LGBMRegressor` and friends) and pandas (for
DataFrame input) whenever they are installed, and both are, for Evidently. That is 0.8 s of the
daily run's 1.8 s pipeline import (bench/daily_parts.py) for code the project does not call: it
trains and scores with `lgb.Dataset`, `lgb.train` and `lgb.Booster` on NumPy arrays only.

So the first import of LightGBM in a process refuses those two packages while it runs: LightGBM
records them as not installed (`lightgbm.compat.SKLEARN_INSTALLED`/`PANDAS_INSTALLED` are
False in this process) and the rest of the process can import them as usual. The C++ library,
the booster and so every number are the same (tests/unit/model/test_lightgbm_import.py).

Only on x86-64: on aarch64 LightGBM imports scikit-learn first on purpose (its libgomp must be
loaded before LightGBM's, LightGBM issue #6509), and a later scikit-learn import could fail.
When either package is already imported, or on other machines, this is a plain `import lightgbm`.
"""

from __future__ import annotations

import importlib.abc
import platform
import sys
from types import ModuleType
from typing import TYPE_CHECKING

HIDDEN = ("sklearn", "pandas")
_LEAN_MACHINES = {"x86_64", "amd64"}


class _Refuse(importlib.abc.MetaPathFinder):
    """Fails the import of the listed top-level packages (ImportError, which LightGBM expects)."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ImportError(f"{fullname} is hidden while LightGBM imports")
        return None


def import_lightgbm() -> ModuleType:
    """`lightgbm`, imported lean the first time (see the module's docstring)."""
    if "lightgbm" in sys.modules or platform.machine().lower() not in _LEAN_MACHINES:
        import lightgbm

        return lightgbm
    refuse = _Refuse({n for n in HIDDEN if n not in sys.modules})
    sys.meta_path.insert(0, refuse)
    try:
        import lightgbm
    finally:
        sys.meta_path.remove(refuse)
    return lightgbm


if TYPE_CHECKING:
    import lightgbm as lgb
else:
    lgb = import_lightgbm()
