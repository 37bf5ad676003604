"""The final LightGBM model: train on the latest window, predict keeping keys, save and load.

Training procedure (`LGBModel.fit` in `nepse.model.lgbm`, the same one every walk-forward block
uses, so the walk-forward metrics describe exactly what is deployed):

- Labels: `y_ret` at row date t is the return from t to t + `settings.horizon` trading days.
  A row is usable at `as_of` only when its label is known by then: t + horizon <= as_of
  (trading days). The training window is the last `train_years` (calendar) of such rows.
- Validation: the last `valid_days` trading days of the window. The fit slice ends `horizon`
  trading days before the validation slice starts (an embargo), so no fit label reaches into
  validation dates. (The arithmetic: `nepse.model.segments`, shared with the walk-forward.)
- Fit on the fit slice with early stopping on the validation slice; the booster is kept at its
  best iteration.
- Target: with `settings.label_transform == "rank"` (the default) the booster is trained on
  the cross-sectional rank of `y_ret` per date, centred to (-0.5, 0.5) (`rank_target`), as
  Qlib's CSRankNorm does: the model is judged and used as a ranking, and ranks are robust to the
  fat tails and market-wide moves that dominate a squared error on raw returns. The booster's
  score is then mapped back to a return, `pred_ret = intercept + slope * score`, by a least
  squares fit of the raw `y_ret` on the score over the validation slice (out of sample for the
  booster; `calibrate`). So `pred_ret` is a next-day return forecast and RMSE/MAE/directional
  accuracy are those of a real return forecast; IC, Rank IC and the spread are those of the
  score (a positive linear map keeps them; the slope is floored at a tiny positive value so the
  order survives a validation slice without signal). With "none" the booster fits `y_ret`
  directly and the map is the identity.
- Files: `save` seals every file with a sha256 in manifest.json; `load` verifies them before
  LightGBM reads model.txt (`nepse.model.files`).
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from nepse.errors import DataQualityError, ModelNotFoundError, NotEnoughHistoryError
from nepse.model import files
from nepse.model._lightgbm import lgb
from nepse.model.data import (
    KEYS,
    LABEL,
    PRED,
    check_panel,
    data_fingerprint,
    feature_matrix,
    library_versions,
    trading_days,
    training_target,
)
from nepse.model.lgbm import MODEL_FILE, LGBModel, lgb_params, read_booster
from nepse.model.segments import segments
from nepse.settings import Settings

logger = logging.getLogger(__name__)

REFERENCE_ROWS = 20_000
META_FILE = "meta.json"
REFERENCE_FILE = "reference.parquet"
FEATURE_SPEC_FILE = "feature_spec.json"
SAVED_FILES = [MODEL_FILE, META_FILE, FEATURE_SPEC_FILE, REFERENCE_FILE]


@dataclass
class TrainedModel:
    """A fitted booster with what is needed to use, monitor and reproduce it."""

    booster: lgb.Booster
    feature_names: list[str]
    categorical: list[str]
    meta: dict[str, Any]
    reference: pl.DataFrame = field(default_factory=pl.DataFrame)

    def predict(self, features: pl.DataFrame) -> pl.DataFrame:
        """Predict `pred_ret` for every row, keeping the keys: (symbol, date, pred_ret)."""
        missing = [c for c in [*KEYS, *self.feature_names] if c not in features.columns]
        if missing:
            raise DataQualityError(
                f"model {self.meta.get('version', '?')}: feature frame lacks {missing[:10]}; "
                "build features with the feature spec the model was trained on "
                f"(version {self.meta.get('feature_version', '?')})"
            )
        if features.height == 0:
            return features.select(*KEYS).with_columns(pl.lit(None, pl.Float64).alias(PRED))
        x = feature_matrix(features, self.feature_names)
        score = self.booster.predict(x, num_iteration=self.meta.get("best_iteration") or None)
        cal = self.meta.get("calibration") or {"intercept": 0.0, "slope": 1.0}
        pred = cal["intercept"] + cal["slope"] * score
        return features.select(*KEYS).with_columns(pl.Series(PRED, pred, dtype=pl.Float64))

    def save(self, folder: Path) -> Path:
        """Write model.txt, meta.json, feature_spec.json and reference.parquet into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(
            str(folder / MODEL_FILE), num_iteration=self.meta.get("best_iteration") or None
        )
        (folder / META_FILE).write_text(json.dumps(self.meta, indent=2, default=str) + "\n")
        spec = self.meta.get("feature_spec") or {
            "names": self.feature_names,
            "categorical": self.categorical,
        }
        (folder / FEATURE_SPEC_FILE).write_text(json.dumps(spec, indent=2) + "\n")
        self.reference.write_parquet(folder / REFERENCE_FILE)
        files.seal(folder, SAVED_FILES)
        return folder

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        """Read a model saved by `save`; ModelNotFoundError if a file is missing or corrupt.

        Every file is checked against the manifest's sha256 before LightGBM parses model.txt.
        """
        folder = Path(folder)
        files.verify(folder, SAVED_FILES)
        try:
            meta = json.loads((folder / META_FILE).read_text())
        except (ValueError, OSError) as exc:
            raise ModelNotFoundError(
                f"model files in {folder} are corrupt ({type(exc).__name__}: {exc}); retrain "
                "(`nepse train`) or roll back to the previous champion (`nepse models rollback`)"
            ) from exc
        booster = read_booster(folder)
        if booster.feature_name() != meta.get("feature_names"):
            raise ModelNotFoundError(
                f"model {folder}: model.txt features do not match meta.json; the folder is "
                "inconsistent, retrain or roll back"
            )
        reference = pl.read_parquet(folder / REFERENCE_FILE)
        return cls(
            booster=booster,
            feature_names=list(meta["feature_names"]),
            categorical=list(meta.get("categorical", [])),
            meta=meta,
            reference=reference,
        )


def _rmse(pred: np.ndarray, y: np.ndarray) -> float | None:
    if len(y) == 0:
        return None
    return float(math.sqrt(float(np.mean((pred - y) ** 2))))


def train_final(
    panel: pl.DataFrame,
    *,
    feature_names: list[str],
    categorical: list[str],
    settings: Settings,
    as_of: date,
    feature_spec: dict[str, Any] | None = None,
    seed: int | None = None,
) -> TrainedModel:
    """Train the production model on the latest window whose labels are known at `as_of`."""
    check_panel(panel, feature_names, categorical, where="train_final")
    seed = settings.seed if seed is None else seed
    days = [d for d in trading_days(panel) if d <= as_of]
    if not days:
        raise NotEnoughHistoryError(f"train_final: no trading day on or before as_of={as_of}")
    if len(days) <= settings.horizon:
        raise NotEnoughHistoryError(f"train_final: fewer than horizon+1 days up to {as_of}")
    # Rows whose label is known at as_of, the last train_years of them (a rolling window).
    seg = segments(days, len(days) - 1, settings, rolling=True)
    start_idx, fit_end, valid_start = seg.train_start, seg.fit_end, seg.valid_start
    last_row_day = days[seg.train_end]
    if fit_end < start_idx:
        raise NotEnoughHistoryError(
            f"train_final: {seg.train_end - start_idx + 1} trading days up to {last_row_day} are "
            f"too few for valid_days={settings.valid_days} plus a {settings.horizon}-day "
            "embargo; load more history or lower NEPSE_VALID_DAYS"
        )
    window = (
        panel.filter(
            pl.col("date").is_between(days[start_idx], last_row_day),
            pl.col(LABEL).is_not_null(),
        )
        .select([*KEYS, LABEL, *feature_names])
        .sort(["date", "symbol"])
    )
    x = feature_matrix(window, feature_names)
    y = window.get_column(LABEL).cast(pl.Float64).to_numpy()
    target = training_target(window, settings)
    dates = window.get_column("date")
    fit_mask = (dates <= days[fit_end]).to_numpy()
    valid_mask = (dates >= days[valid_start]).to_numpy()
    fit_idx, valid_idx = np.flatnonzero(fit_mask), np.flatnonzero(valid_mask)
    if len(fit_idx) == 0 or len(valid_idx) == 0:
        raise NotEnoughHistoryError(
            f"train_final: no labelled rows in the fit or validation slice ending {last_row_day}"
        )
    model = LGBModel.fit(
        x,
        y,
        fit_idx,
        valid_idx,
        feature_names=feature_names,
        categorical=categorical,
        settings=settings,
        seed=seed,
        target=target,
    )
    booster, best = model.booster, model.best_iteration
    intercept, slope = model.intercept, model.slope
    in_sample = model.predict(x)
    train_rmse = _rmse(in_sample[fit_idx], y[fit_idx])
    valid_rmse = _rmse(in_sample[valid_idx], y[valid_idx])
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(window.height, min(REFERENCE_ROWS, window.height), replace=False))
    reference = window[take].with_columns(pl.Series(PRED, in_sample[take], dtype=pl.Float64))
    meta: dict[str, Any] = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "as_of": as_of.isoformat(),
        "horizon": settings.horizon,
        "train_start": days[start_idx].isoformat(),
        "train_end": last_row_day.isoformat(),
        "fit_end": days[fit_end].isoformat(),
        "valid_start": days[valid_start].isoformat(),
        "n_fit": len(fit_idx),
        "n_valid": len(valid_idx),
        "n_symbols": window.get_column("symbol").n_unique(),
        "seed": seed,
        "params": lgb_params(settings, seed),
        "num_boost_round": settings.num_boost_round,
        "early_stopping_rounds": settings.early_stopping_rounds,
        "best_iteration": best,
        "label_transform": settings.label_transform,
        "calibration": {"intercept": intercept, "slope": slope},
        "train_rmse": train_rmse,
        "valid_rmse": valid_rmse,
        "rmse_alert_ratio": settings.rmse_alert_ratio,
        "feature_names": list(feature_names),
        "categorical": list(categorical),
        "feature_spec": feature_spec
        or {"names": list(feature_names), "categorical": list(categorical)},
        "feature_version": (feature_spec or {}).get("version"),
        "data_fingerprint": data_fingerprint(window, feature_names),
        "library_versions": library_versions(),
        "importance_gain": dict(
            zip(
                feature_names,
                model.importance().tolist(),
                strict=True,
            )
        ),
    }
    logger.info(
        "trained final model as_of %s on %s..%s (%d fit + %d valid rows), %d rounds, "
        "train RMSE %.5f",
        as_of,
        meta["train_start"],
        meta["train_end"],
        len(fit_idx),
        len(valid_idx),
        best,
        train_rmse or float("nan"),
    )
    return TrainedModel(
        booster=booster,
        feature_names=list(feature_names),
        categorical=list(categorical),
        meta=meta,
        reference=reference,
    )
