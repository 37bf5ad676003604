"""The final LightGBM model: train on the latest window, predict keeping keys, save and load.

Training procedure (the same one `nepse.model.walkforward` evaluates, so the walk-forward metrics
describe exactly what is deployed):

- Labels: `y_ret` at row date t is the return from t to t + `settings.horizon` trading days.
  A row is usable at `as_of` only when its label is known by then: t + horizon <= as_of
  (trading days). The training window is the last `train_years` (calendar) of such rows.
- Validation: the last `valid_days` trading days of the window. The fit slice ends `horizon`
  trading days before the validation slice starts (an embargo), so no fit label reaches into
  validation dates.
- Fit on the fit slice with early stopping on the validation slice (at most
  `num_boost_round` rounds, patience `early_stopping_rounds`); the booster is kept at its best
  iteration. No refit on the whole window: the walk-forward does not refit either, and the
  latest `valid_days` days are a small share of an 8-year window.
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
- Deterministic for a seed: `seed`, `deterministic=True` and a fixed thread count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl

from nepse.errors import DataQualityError, ModelNotFoundError, NotEnoughHistoryError
from nepse.settings import Settings

logger = logging.getLogger(__name__)

LABEL = "y_ret"
PRED = "pred_ret"
KEYS = ("symbol", "date")
REFERENCE_ROWS = 20_000
MODEL_FILE = "model.txt"
META_FILE = "meta.json"
REFERENCE_FILE = "reference.parquet"
FEATURE_SPEC_FILE = "feature_spec.json"
# Smallest calibration slope: keeps the score's order when the validation slice shows no signal.
MIN_SLOPE = 1e-9


def lgb_params(settings: Settings, seed: int) -> dict[str, Any]:
    """LightGBM parameters of `settings` for one seed, made deterministic.

    `settings.lgbm_params` is merged over the Settings defaults, so a config that sets only
    `learning_rate` keeps the other defaults (as the setting's docstring promises).
    """
    defaults = Settings.model_fields["lgbm_params"].default_factory()  # type: ignore[misc]
    params = {**defaults, **settings.lgbm_params}
    params.update(
        seed=seed,
        deterministic=True,
        num_threads=int(params.get("num_threads", 2) or 2),
        verbose=-1,
    )
    # Without this LightGBM fixes its histogram layout by a timing test: not reproducible.
    if not params.get("force_col_wise"):
        params.setdefault("force_row_wise", True)
    return params


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
        return folder

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        """Read a model saved by `save`; ModelNotFoundError if a file is missing or corrupt."""
        folder = Path(folder)
        for name in (MODEL_FILE, META_FILE):
            if not (folder / name).is_file():
                raise ModelNotFoundError(
                    f"model folder {folder} has no {name}; retrain (`nepse train`) or roll "
                    "back to the previous champion (`nepse models rollback`)"
                )
        try:
            meta = json.loads((folder / META_FILE).read_text())
            booster = lgb.Booster(model_file=str(folder / MODEL_FILE))
        except (ValueError, lgb.basic.LightGBMError, OSError) as exc:
            raise ModelNotFoundError(
                f"model files in {folder} are corrupt ({type(exc).__name__}: {exc}); retrain "
                "(`nepse train`) or roll back to the previous champion (`nepse models rollback`)"
            ) from exc
        if booster.feature_name() != meta.get("feature_names"):
            raise ModelNotFoundError(
                f"model {folder}: model.txt features do not match meta.json; the folder is "
                "inconsistent, retrain or roll back"
            )
        ref_path = folder / REFERENCE_FILE
        reference = pl.read_parquet(ref_path) if ref_path.is_file() else pl.DataFrame()
        return cls(
            booster=booster,
            feature_names=list(meta["feature_names"]),
            categorical=list(meta.get("categorical", [])),
            meta=meta,
            reference=reference,
        )


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


def calibrate(score: np.ndarray, y: np.ndarray, settings: Settings) -> tuple[float, float]:
    """(intercept, slope) mapping booster scores to returns: least squares of `y` on `score`.

    Identity for label_transform "none". The slope is floored at MIN_SLOPE (see module doc).
    """
    if settings.label_transform == "none":
        return 0.0, 1.0
    ok = np.isfinite(score) & np.isfinite(y)
    if not ok.any():
        return 0.0, MIN_SLOPE
    s, t = score[ok], y[ok]
    var = float(np.var(s))
    slope = float(np.mean((s - s.mean()) * (t - t.mean())) / var) if var > 0 else 0.0
    slope = max(slope, MIN_SLOPE)
    return float(t.mean() - slope * s.mean()), slope


def fit_booster(
    x: np.ndarray,
    y: np.ndarray,
    fit_idx: np.ndarray,
    valid_idx: np.ndarray,
    *,
    feature_names: list[str],
    categorical: list[str],
    settings: Settings,
    seed: int,
    dataset: lgb.Dataset | None = None,
    target: np.ndarray | None = None,
) -> lgb.Booster:
    """Train one booster on rows `fit_idx`, early-stopping on rows `valid_idx`.

    The booster fits `target` (default `y`; see `training_target`). With `dataset` (a
    constructed Dataset over all rows of `x` whose label is the target, see `walkforward`)
    the slices are LightGBM subsets sharing its bins; otherwise both are built from `x` here with
    bins from the fit slice only.
    """
    params = lgb_params(settings, seed)
    y = y if target is None else target
    if dataset is not None:
        fit_set = dataset.subset(fit_idx, params=params)
        valid_set = dataset.subset(valid_idx, params=params) if len(valid_idx) else None
    else:
        fit_set = lgb.Dataset(
            x[fit_idx],
            label=y[fit_idx],
            feature_name=feature_names,
            categorical_feature=categorical or "auto",
            params=params,
            free_raw_data=True,
        )
        valid_set = (
            lgb.Dataset(x[valid_idx], label=y[valid_idx], reference=fit_set)
            if len(valid_idx)
            else None
        )
    callbacks = []
    valid_sets = []
    if valid_set is not None:
        valid_sets = [valid_set]
        callbacks.append(lgb.early_stopping(settings.early_stopping_rounds, verbose=False))
    booster = lgb.train(
        params,
        fit_set,
        num_boost_round=settings.num_boost_round,
        valid_sets=valid_sets,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
    )
    return booster


def best_iteration(booster: lgb.Booster) -> int:
    """Rounds kept: the early-stopping best iteration, else all trained rounds."""
    return int(booster.best_iteration or booster.current_iteration())


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
    # A label at row date t is known at t + horizon trading days; keep rows known by as_of.
    end_idx = len(days) - 1 - settings.horizon
    if end_idx < 0:
        raise NotEnoughHistoryError(f"train_final: fewer than horizon+1 days up to {as_of}")
    last_row_day = days[end_idx]
    first_day = max(days[0], years_before(days[end_idx], settings.train_years))
    start_idx = next(i for i, d in enumerate(days) if d >= first_day)
    valid_start = max(start_idx, end_idx - settings.valid_days + 1)
    fit_end = valid_start - settings.horizon - 1
    if fit_end < start_idx:
        raise NotEnoughHistoryError(
            f"train_final: {end_idx - start_idx + 1} trading days up to {last_row_day} are too "
            f"few for valid_days={settings.valid_days} plus a {settings.horizon}-day embargo; "
            "load more history or lower NEPSE_VALID_DAYS"
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
    booster = fit_booster(
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
    best = best_iteration(booster)
    score = booster.predict(x, num_iteration=best)
    intercept, slope = calibrate(score[valid_idx], y[valid_idx], settings)
    in_sample = intercept + slope * score
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
                booster.feature_importance("gain", iteration=best).tolist(),
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
