"""From a feature+label panel to what LightGBM and the baselines read: checks, matrices, targets.

Shared by the final model (`nepse.model.final`) and the walk-forward, so both see the same
matrix, the same calendar and the same training target.
"""

from __future__ import annotations

import hashlib
import json
import platform
from datetime import date, timedelta

import numpy as np
import polars as pl

from nepse.errors import DataQualityError
from nepse.schema import KEYS
from nepse.settings import Settings

LABEL = "y_ret"
PRED = "pred_ret"


def check_panel(
    panel: pl.DataFrame, feature_names: list[str], categorical: list[str], *, where: str
) -> None:
    """Raise DataQualityError when keys, label or features are missing from `panel`."""
    need = [*KEYS, LABEL, *feature_names]
    missing = [c for c in need if c not in panel.columns]
    if missing:
        raise DataQualityError(
            f"{where}: panel lacks column(s) {missing[:10]}; build it with nepse.features and "
            f"features.labels (features {len(feature_names)}, keys {list(KEYS)}, label {LABEL})"
        )
    stray = [c for c in categorical if c not in feature_names]
    if stray:
        raise DataQualityError(
            f"{where}: categorical feature(s) {stray} are not among feature_names; "
            "list every categorical feature in feature_names too"
        )
    if not feature_names:
        raise DataQualityError(f"{where}: feature_names is empty")


def feature_matrix(df: pl.DataFrame, feature_names: list[str]) -> np.ndarray:
    """Features as one float64 matrix (nulls and +-inf become NaN, LightGBM's missing value)."""
    x = df.select([pl.col(c).cast(pl.Float64) for c in feature_names]).to_numpy()
    x = np.ascontiguousarray(x, dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    return x


def trading_days(panel: pl.DataFrame) -> list[date]:
    """The trading calendar = every date present in the panel, ascending (NEPSE's own)."""
    return panel.get_column("date").unique().sort().to_list()


def data_fingerprint(panel: pl.DataFrame, feature_names: list[str], label: str = LABEL) -> str:
    """sha256 of the (symbol, date, label, features) content, sorted, independent of row order."""
    df = panel.select([*KEYS, label, *feature_names]).sort(["date", "symbol"])
    h = hashlib.sha256()
    h.update(json.dumps([*KEYS, label, *feature_names]).encode())
    h.update("\n".join(df.get_column("symbol").to_list()).encode())
    h.update(df.get_column("date").cast(pl.Int32).to_numpy().tobytes())
    for c in [label, *feature_names]:
        col = df.get_column(c).cast(pl.Float64).fill_null(float("nan")).to_numpy()
        h.update(np.ascontiguousarray(col).tobytes())
    return h.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions that decide whether a saved model reproduces."""
    import sklearn

    from nepse.model._lightgbm import lgb

    return {
        "python": platform.python_version(),
        "lightgbm": lgb.__version__,
        "polars": pl.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
    }


def years_before(day: date, years: float) -> date:
    """The calendar date `years` before `day` (365.25 days a year)."""
    return day - timedelta(days=round(years * 365.25))


def rank_target(frame: pl.DataFrame, label: str = LABEL) -> np.ndarray:
    """Cross-sectional rank of `label` per date in (-0.5, 0.5), the training target for "rank".

    Uses only labels of the same date, so it adds no information from other dates; null labels
    stay NaN.
    """
    n = pl.col(label).count().over("date")
    r = (pl.col(label).rank("average").over("date") - 0.5) / n - 0.5
    return frame.select(r.cast(pl.Float64)).to_series().fill_null(float("nan")).to_numpy()


def training_target(frame: pl.DataFrame, settings: Settings, label: str = LABEL) -> np.ndarray:
    """What the booster fits: ranked or raw `label`, per `settings.label_transform`."""
    if settings.label_transform == "rank":
        return rank_target(frame, label)
    return frame.get_column(label).cast(pl.Float64).fill_null(float("nan")).to_numpy()
