"""Baselines the model must beat, scored by the walk-forward on exactly the model's test rows.

Every baseline follows the Qlib fit/predict contract on numpy matrices whose columns are the
panel's `feature_names` (the walk-forward converts the panel once): `fit(x, y)` sees the
training window only, `predict(x)` returns one float per row (NaN = no prediction).

- `zero`: predicts 0 for every row. Its IC, Rank IC, spread and directional accuracy are
  undefined (null); its RMSE/MAE are those of predicting no move.
- `reversal`: `-f_ret_1` (yesterday's loser is today's winner). No fit.
- `momentum`: `f_roc_5` (the 5-day return carries on). No fit.
- `ridge`: ridge regression (alpha=1.0, intercept not penalised, = sklearn `Ridge`) on every
  non-categorical feature, standardised with the training window's mean and std after filling
  nulls with the training window's medians.
- `random_forest`: the original design's `RandomForestRegressor(n_estimators=100,
  max_depth=5)` on f_ret_1, f_ret_lag_1/2/3/5, f_ma_ratio_5/10/20, f_vol_5/10/20 (nulls
  filled with training medians). For speed on 2 cores (a fit on a 300k-row window takes
  minutes) each tree is grown on a bootstrap sample of at most `RF_MAX_SAMPLES` = 10,000
  rows (`max_samples`) drawn from a pool of `RF_POOL_ROWS` = 100,000 rows sampled without
  replacement from the window (seeded), instead of a bootstrap of the whole window, and the
  walk-forward refits it every
  `RF_RETRAIN_EVERY_BLOCKS` = 6 blocks (about half-yearly with monthly blocks) rather than
  every block; in between it keeps predicting with the last fit, which only ever saw data
  before its own block. Both numbers are recorded in the walk-forward result.

Training medians (ridge, random forest) are taken over at most `MEDIAN_ROWS` = 50,000
evenly spaced rows of the window.

Rule baselines predict null where their feature is null; `coverage` in the summary shows how
often that happens.
"""

from __future__ import annotations

import logging
import warnings
from typing import Protocol

import numpy as np
from threadpoolctl import threadpool_limits

from nepse.features import LAG_MA_VOL_FEATURES

logger = logging.getLogger(__name__)

RF_FEATURES: tuple[str, ...] = LAG_MA_VOL_FEATURES
RF_MAX_SAMPLES = 10_000
RF_RETRAIN_EVERY_BLOCKS = 6
RF_POOL_ROWS = 100_000
MEDIAN_ROWS = 50_000
RIDGE_ALPHA = 1.0
BASELINE_NAMES: tuple[str, ...] = ("zero", "reversal", "momentum", "ridge", "random_forest")


class Baseline(Protocol):
    """What the walk-forward needs of a baseline."""

    name: str
    retrain_every_blocks: int

    def fit(self, x: np.ndarray, y: np.ndarray) -> Baseline:
        """Fit on the training window's rows."""
        ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """One prediction per row of `x` (NaN where none)."""
        ...


class ZeroBaseline:
    """Predicts a zero return for every row."""

    name = "zero"
    retrain_every_blocks = 1

    def fit(self, x: np.ndarray, y: np.ndarray) -> ZeroBaseline:
        """Nothing to fit."""
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Zeros."""
        return np.zeros(x.shape[0])


class ColumnBaseline:
    """Predicts `sign * x[:, column]`: reversal (-f_ret_1) and momentum (f_roc_5)."""

    retrain_every_blocks = 1

    def __init__(self, name: str, column: int, sign: float) -> None:
        self.name, self.column, self.sign = name, column, sign

    def fit(self, x: np.ndarray, y: np.ndarray) -> ColumnBaseline:
        """Nothing to fit."""
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The signed feature column."""
        return self.sign * x[:, self.column]


def _medians(x: np.ndarray) -> np.ndarray:
    """Column medians ignoring NaN (an all-null column gets 0).

    Taken over every k-th row so that at most MEDIAN_ROWS rows are used: a fill value does not
    need the exact median of 300k rows, and the exact one costs seconds per block.
    """
    step = max(1, -(-x.shape[0] // MEDIAN_ROWS))
    sample = x[::step]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN column: filled with 0 below
        med = np.nanmedian(sample, axis=0) if sample.size else np.zeros(x.shape[1])
    return np.where(np.isnan(med), 0.0, med)


def _fill(x: np.ndarray, fill: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), fill, x)


class RidgeBaseline:
    """Ridge regression on standardised, median-filled numeric features (training window only).

    Solved in closed form from the window's moments (equal to sklearn `Ridge(alpha)` with an
    unpenalised intercept on standardised inputs) so that no standardised copy of a 300k-row
    window is made.
    """

    name = "ridge"
    retrain_every_blocks = 1

    def __init__(self, columns: list[int], alpha: float = RIDGE_ALPHA) -> None:
        self.columns, self.alpha = columns, alpha

    def fit(self, x: np.ndarray, y: np.ndarray) -> RidgeBaseline:
        """Learn medians, mean/std and coefficients from the training rows."""
        # One BLAS thread: the products are small, and OpenBLAS threads that busy-wait for a
        # core took 10 s instead of 0.03 s for one 340k x 42 Gram matrix on the shared box.
        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(x, y)

    def _fit(self, x: np.ndarray, y: np.ndarray) -> RidgeBaseline:
        xs = x[:, self.columns]
        self.median_ = _medians(xs)
        filled = _fill(xs, self.median_)
        n = filled.shape[0]
        self.mean_ = filled.mean(axis=0)
        gram = filled.T @ filled - n * np.outer(self.mean_, self.mean_)
        std = np.sqrt(np.clip(np.diag(gram) / n, 0.0, None))
        self.std_ = np.where(std > 0, std, 1.0)
        self.intercept_ = float(y.mean())
        zz = gram / np.outer(self.std_, self.std_)
        zy = (filled.T @ (y - self.intercept_)) / self.std_
        self.coef_ = np.linalg.solve(zz + self.alpha * np.eye(len(self.columns)), zy)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions with the training window's fill values and scaling."""
        filled = _fill(x[:, self.columns], self.median_)
        with threadpool_limits(limits=1, user_api="blas"):
            return ((filled - self.mean_) / self.std_) @ self.coef_ + self.intercept_


class RandomForestBaseline:
    """The original design's RandomForest on lag, moving-average and volatility features."""

    name = "random_forest"

    def __init__(
        self,
        columns: list[int],
        *,
        seed: int = 0,
        max_samples: int = RF_MAX_SAMPLES,
        retrain_every_blocks: int = RF_RETRAIN_EVERY_BLOCKS,
        n_jobs: int = 2,
    ) -> None:
        self.columns, self.seed, self.max_samples = columns, seed, max_samples
        self.retrain_every_blocks, self.n_jobs = retrain_every_blocks, n_jobs

    def fit(self, x: np.ndarray, y: np.ndarray) -> RandomForestBaseline:
        """Fit 100 depth-5 trees, each on a bootstrap of at most `max_samples` rows."""
        xs = x[:, self.columns]
        self.median_ = _medians(xs)
        # sklearn bootstraps by weighting all n rows per tree; drawing the pool of rows the
        # trees can see first (RF_POOL_ROWS, without replacement) keeps that O(pool), not O(n).
        rng = np.random.default_rng(self.seed)
        pool = np.sort(rng.choice(xs.shape[0], min(RF_POOL_ROWS, xs.shape[0]), replace=False))
        from sklearn.ensemble import RandomForestRegressor  # ~1 s to import: only when fitted

        self.model_ = RandomForestRegressor(
            n_estimators=100,
            max_depth=5,
            max_samples=min(self.max_samples, len(pool)),
            n_jobs=self.n_jobs,
            random_state=self.seed,
        ).fit(_fill(xs[pool], self.median_), y[pool])
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Forest predictions on median-filled features.

        In one thread: scikit-learn adds the trees' predictions up in whichever order its
        threads finish, so with several the last digit differed from run to run.
        """
        self.model_.set_params(n_jobs=1)
        return self.model_.predict(_fill(x[:, self.columns], self.median_))


def make_baselines(
    feature_names: list[str], categorical: list[str], *, seed: int = 0
) -> list[Baseline]:
    """The baselines that can be built from these features (a missing input skips one, logged)."""
    index = {name: i for i, name in enumerate(feature_names)}
    out: list[Baseline] = [ZeroBaseline()]
    for name, col, sign in (("reversal", "f_ret_1", -1.0), ("momentum", "f_roc_5", 1.0)):
        if col in index:
            out.append(ColumnBaseline(name, index[col], sign))
        else:
            logger.warning("baseline %s skipped: feature %s not in the panel", name, col)
    numeric = [index[c] for c in feature_names if c not in set(categorical)]
    if numeric:
        out.append(RidgeBaseline(numeric))
    rf_cols = [index[c] for c in RF_FEATURES if c in index]
    if rf_cols:
        if len(rf_cols) < len(RF_FEATURES):
            logger.warning(
                "random_forest baseline uses %d of its %d features (others not in the panel)",
                len(rf_cols),
                len(RF_FEATURES),
            )
        out.append(RandomForestBaseline(rf_cols, seed=seed))
    return out
