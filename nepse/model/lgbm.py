"""The LightGBM model: one fit procedure for the final model and every walk-forward block.

`LGBModel.fit` is the procedure, written once (as Qlib's `LGBModel` in contrib/model/gbdt.py):

1. train a booster on the fit slice, on `training_target` (ranked or raw `y_ret`), with early
   stopping on the validation slice (at most `num_boost_round` rounds, patience
   `early_stopping_rounds`);
2. keep it at its best iteration (no refit on the whole window: the latest `valid_days` days are
   a small share of a multi-year window, and the walk-forward evaluates exactly this);
3. calibrate the score to a return, `pred_ret = intercept + slope * score`, by least squares of
   the raw `y_ret` on the score over the validation slice (out of sample for the booster; see
   `calibrate`).

Deterministic for a seed: `seed`, `deterministic=True`, row-wise histograms and a fixed thread
count (`lgb_params`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nepse.errors import ModelNotFoundError
from nepse.model import files
from nepse.model._lightgbm import lgb
from nepse.model.probe import probe
from nepse.settings import Settings

MODEL_FILE = "model.txt"
FIT_FILE = "fit.json"
# Smallest calibration slope: keeps the score's order when the validation slice shows no signal.
MIN_SLOPE = 1e-9


def lgb_params(settings: Settings, seed: int, *, num_threads: int | None = None) -> dict[str, Any]:
    """LightGBM parameters of `settings` for one seed, made deterministic.

    `settings.lgbm_params` is merged over the Settings defaults, so a config that sets only
    `learning_rate` keeps the other defaults (as the setting's docstring promises).
    `num_threads` overrides the setting (a Dask worker's share of the cores).
    """
    defaults = Settings.model_fields["lgbm_params"].default_factory()  # type: ignore[misc]
    params = {**defaults, **settings.lgbm_params}
    threads = num_threads or int(params.get("num_threads", 2) or 2)
    params.update(seed=seed, deterministic=True, num_threads=threads, verbose=-1)
    # Without this LightGBM fixes its histogram layout by a timing test: not reproducible.
    if not params.get("force_col_wise"):
        params.setdefault("force_row_wise", True)
    return params


def seed_free(params: dict[str, Any]) -> bool:
    """True when the seed cannot change a fit: plain gbdt, no row or feature sampling.

    Then every seed of a block gives the same booster, and the walk-forward fits it once.
    """
    boosting = str(params.get("boosting", params.get("boosting_type", "gbdt")))
    bagging = (
        float(params.get("bagging_fraction", 1.0)) < 1.0 and int(params.get("bagging_freq", 0)) > 0
    )
    sampled = any(
        float(params.get(k, 1.0)) < 1.0 for k in ("feature_fraction", "feature_fraction_bynode")
    )
    return boosting == "gbdt" and not bagging and not sampled and not params.get("extra_trees")


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
    num_threads: int | None = None,
) -> lgb.Booster:
    """Train one booster on rows `fit_idx`, early-stopping on rows `valid_idx`.

    The booster fits `target` (default `y`; see `training_target`). With `dataset` (a
    constructed Dataset over all rows of `x` whose label is the target, see `walkforward`)
    the slices are LightGBM subsets sharing its bins; otherwise both are built from `x` here with
    bins from the fit slice only.
    """
    params = lgb_params(settings, seed, num_threads=num_threads)
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
    return lgb.train(
        params,
        fit_set,
        num_boost_round=settings.num_boost_round,
        valid_sets=valid_sets,
        valid_names=["valid"] if valid_sets else None,
        callbacks=callbacks,
    )


def best_iteration(booster: lgb.Booster) -> int:
    """Rounds kept: the early-stopping best iteration, else all trained rounds."""
    return int(booster.best_iteration or booster.current_iteration())


def read_booster(folder: Path) -> lgb.Booster:
    """The booster in `folder`/model.txt, verified against the folder's manifest first.

    A missing or corrupt file is a ModelNotFoundError before LightGBM's parser sees it (that
    parser aborts the process on a truncated file instead of raising), and so is a file that
    matches its manifest but crashes the parser in a child process (nepse/model/probe.py).
    """
    folder = Path(folder)
    text = files.verified_bytes(folder, MODEL_FILE)
    # A text that matches its manifest may still be cut short (checksums catch accidents, not
    # a bad writer): parse it first in a child process, where a crash cannot end this one.
    probe(text, source=folder / MODEL_FILE)
    try:
        return lgb.Booster(model_str=text.decode("utf-8"))
    except (lgb.basic.LightGBMError, OSError, ValueError) as exc:
        raise ModelNotFoundError(
            f"model file {folder / MODEL_FILE} is unreadable ({type(exc).__name__}: {exc}); "
            "retrain (`nepse train`) or roll back (`nepse models rollback`)"
        ) from exc


@dataclass(frozen=True)
class LGBModel:
    """A booster fitted by the one procedure (module doc), with its score -> return map."""

    booster: lgb.Booster
    best_iteration: int
    intercept: float = 0.0
    slope: float = 1.0

    @classmethod
    def fit(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        fit_idx: np.ndarray,
        valid_idx: np.ndarray,
        *,
        feature_names: list[str],
        categorical: list[str],
        settings: Settings,
        seed: int,
        target: np.ndarray | None = None,
        dataset: lgb.Dataset | None = None,
        num_threads: int | None = None,
    ) -> LGBModel:
        """Fit slice -> early stopping on validation -> best iteration -> calibrate on it."""
        booster = fit_booster(
            x,
            y,
            fit_idx,
            valid_idx,
            feature_names=feature_names,
            categorical=categorical,
            settings=settings,
            seed=seed,
            dataset=dataset,
            target=target,
            num_threads=num_threads,
        )
        best = best_iteration(booster)
        score = booster.predict(x[valid_idx], num_iteration=best)
        intercept, slope = calibrate(score, y[valid_idx], settings)
        return cls(booster=booster, best_iteration=best, intercept=intercept, slope=slope)

    def score(self, x: np.ndarray) -> np.ndarray:
        """The booster's raw score at its best iteration."""
        return self.booster.predict(x, num_iteration=self.best_iteration)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Calibrated return forecasts `intercept + slope * score`."""
        return self.intercept + self.slope * self.score(x)

    def importance(self) -> np.ndarray:
        """Total gain per feature at the best iteration."""
        return self.booster.feature_importance("gain", iteration=self.best_iteration)

    def save(self, folder: Path) -> Path:
        """Write model.txt, fit.json and a manifest with their checksums into `folder`."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(str(folder / MODEL_FILE), num_iteration=self.best_iteration)
        fit = {
            "best_iteration": self.best_iteration,
            "intercept": self.intercept,
            "slope": self.slope,
        }
        (folder / FIT_FILE).write_text(json.dumps(fit, indent=2) + "\n")
        files.seal(folder, [MODEL_FILE, FIT_FILE])
        return folder

    @classmethod
    def load(cls, folder: Path) -> LGBModel:
        """Read a model saved by `save`; ModelNotFoundError if a file is missing or corrupt."""
        folder = Path(folder)
        files.verify(folder, [MODEL_FILE, FIT_FILE])
        fit = json.loads((folder / FIT_FILE).read_text())
        return cls(
            booster=read_booster(folder),
            best_iteration=int(fit["best_iteration"]),
            intercept=float(fit["intercept"]),
            slope=float(fit["slope"]),
        )
