"""The walk-forward's block plan: which days each block tests, trains, fits and validates on.

Segments, in trading days of the panel's own calendar (every date present in it):

- Test days (from `test_start` to `test_end`, days with at least one label) are cut into blocks
  of `settings.retrain_every` consecutive trading days. Each block gets a fresh model.
- Training window of a block starting on day s: rows dated up to s - horizon - 1, so the label
  of the last training row (known at its date + horizon) is dated before s: no training label
  reaches into the test block. It starts at the first day (expanding) or `train_years` calendar
  years before its end (rolling), per `settings.walk_forward_window`.
- Validation slice: the last `valid_days` trading days of the training window. The fit slice
  ends `horizon` trading days before it (the same embargo).

The panel is converted once (`prepare`) to one float64 matrix sorted by date, so every segment is
a contiguous row range [lo, hi), which is all a `BlockPlan` needs to carry. LightGBM bins (the
only feature-distribution statistic it learns) are computed once (`bin_panel`), from the first
block's fit slice, i.e. from data strictly before the first test day; every block then trains on
a `Dataset.subset` of the one binned panel. Trees split on raw thresholds, so predictions do not
depend on how later data is binned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date

import numpy as np
import polars as pl

from nepse.errors import NotEnoughHistoryError
from nepse.model._lightgbm import lgb
from nepse.model.data import (
    KEYS,
    LABEL,
    feature_matrix,
    trading_days,
    training_target,
    years_before,
)
from nepse.model.lgbm import lgb_params
from nepse.settings import Settings


@dataclass(frozen=True)
class BlockPlan:
    """One walk-forward block: its segments as day indices, dates and row ranges [lo, hi)."""

    block: int
    test_start: date
    test_end: date
    train_start: date
    fit_end: date
    valid_start: date
    train_end: date
    n_test_days: int
    fit_rows: tuple[int, int]
    valid_rows: tuple[int, int]
    train_rows: tuple[int, int]
    test_rows: tuple[int, int]

    @property
    def n_test(self) -> int:
        """Labelled rows in the test block."""
        return self.test_rows[1] - self.test_rows[0]

    def key(self) -> str:
        """A short stable id of the block's segments (names its checkpoint files)."""
        text = json.dumps(asdict(self), default=str, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class PreparedPanel:
    """The walk-forward's panel as arrays: labelled rows sorted by (date, symbol)."""

    data: pl.DataFrame
    """Keys, label and features of the labelled rows, sorted by date then symbol."""
    x: np.ndarray
    y: np.ndarray
    target: np.ndarray
    days: list[date]
    day_start: np.ndarray
    """Rows of calendar day i are [day_start[i], day_start[i + 1])."""
    feature_names: list[str]
    categorical: list[str]
    dataset: lgb.Dataset | None = None
    """The binned panel (`bin_panel`), shared by every block's fits."""

    def rows(self, a: int, b: int) -> tuple[int, int]:
        """Row range of calendar days a..b inclusive (empty when b < a)."""
        if b < a:
            return (0, 0)
        return (int(self.day_start[max(a, 0)]), int(self.day_start[b + 1]))

    def fingerprint(self) -> str:
        """sha256 of the arrays a fit reads (names the walk-forward's checkpoint folder)."""
        h = hashlib.sha256(json.dumps([self.feature_names, self.categorical]).encode())
        for a in (self.x, self.y, self.target, self.day_start):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(json.dumps([d.isoformat() for d in self.days]).encode())
        return h.hexdigest()


def prepare(
    panel: pl.DataFrame, *, feature_names: list[str], categorical: list[str], settings: Settings
) -> PreparedPanel:
    """Labelled rows sorted by date, with the feature matrix, label and training target."""
    days = trading_days(panel)
    if not days:
        raise NotEnoughHistoryError("walk_forward: the panel is empty")
    days_np = np.array(days, dtype="datetime64[D]")
    data = (
        panel.lazy()
        .select([*KEYS, LABEL, *feature_names])
        .filter(pl.col(LABEL).is_not_null())
        .sort(["date", "symbol"])
        .collect()
    )
    row_day = np.searchsorted(days_np, data.get_column("date").to_numpy().astype("datetime64[D]"))
    day_start = np.searchsorted(row_day, np.arange(len(days) + 1))
    return PreparedPanel(
        data=data,
        x=feature_matrix(data, feature_names),
        y=data.get_column(LABEL).cast(pl.Float64).to_numpy(),
        # Per-date ranks (label_transform "rank") use only labels of their own date: no leak.
        target=training_target(data, settings),
        days=days,
        day_start=day_start,
        feature_names=list(feature_names),
        categorical=list(categorical),
    )


def default_test_start(days: Sequence[date]) -> date:
    """About the last two years of the calendar (used when neither argument nor setting is set)."""
    start = years_before(days[-1], 2.0)
    return next(d for d in days if d >= start)


def plan_blocks(
    prep: PreparedPanel,
    settings: Settings,
    *,
    test_start: date | None = None,
    test_end: date | None = None,
) -> list[BlockPlan]:
    """Cut the test period into blocks and give each its train/fit/validation segments."""
    days, h = prep.days, settings.horizon
    days_np = np.array(days, dtype="datetime64[D]")
    start = test_start or settings.test_start or default_test_start(days)
    in_test = (days_np >= np.datetime64(start)) & (
        days_np <= np.datetime64(test_end) if test_end else True
    )
    has_rows = np.diff(prep.day_start) > 0
    test_idx = np.flatnonzero(in_test & has_rows)
    if len(test_idx) == 0:
        raise NotEnoughHistoryError(
            f"walk_forward: no labelled trading day in the test period {start}..{test_end or '-'}"
        )
    size = settings.retrain_every
    plans = []
    for k, i in enumerate(range(0, len(test_idx), size)):
        blk = test_idx[i : i + size]
        s, e = int(blk[0]), int(blk[-1])
        train_end = s - h - 1
        if settings.walk_forward_window == "rolling" and train_end >= 0:
            first = np.datetime64(years_before(days[train_end], settings.train_years))
            train_start = int(np.searchsorted(days_np, first))
        else:
            train_start = 0
        valid_start = max(train_start, train_end - settings.valid_days + 1)
        fit_end = valid_start - h - 1
        fit_rows, valid_rows = prep.rows(train_start, fit_end), prep.rows(valid_start, train_end)
        n_fit, n_valid = fit_rows[1] - fit_rows[0], valid_rows[1] - valid_rows[0]
        if n_fit <= 0 or n_valid <= 0:
            raise NotEnoughHistoryError(
                f"walk_forward: block {k} (test from {days[s]}) has {max(n_fit, 0)} fit and "
                f"{max(n_valid, 0)} validation rows: too little history before the test period "
                f"for valid_days={settings.valid_days} and horizon={h}; pass a later "
                "test_start or load more history"
            )
        plans.append(
            BlockPlan(
                block=k,
                test_start=days[s],
                test_end=days[e],
                train_start=days[train_start],
                fit_end=days[fit_end],
                valid_start=days[valid_start],
                train_end=days[train_end],
                n_test_days=e - s + 1,
                fit_rows=fit_rows,
                valid_rows=valid_rows,
                train_rows=prep.rows(train_start, train_end),
                test_rows=prep.rows(s, e),
            )
        )
    return plans


def bin_panel(prep: PreparedPanel, first: BlockPlan, settings: Settings, seed: int) -> lgb.Dataset:
    """Bin the whole panel once with bins from `first`'s fit slice; store it on `prep`."""
    params = lgb_params(settings, seed)
    lo, hi = first.fit_rows
    ref = lgb.Dataset(
        prep.x[lo:hi],
        label=prep.target[lo:hi],
        feature_name=prep.feature_names,
        categorical_feature=prep.categorical or "auto",
        params=params,
        free_raw_data=False,
    ).construct()
    prep.dataset = lgb.Dataset(
        prep.x,
        label=prep.target,
        reference=ref,
        feature_name=prep.feature_names,
        categorical_feature=prep.categorical or "auto",
        params=params,
        free_raw_data=False,
    ).construct()
    return prep.dataset
