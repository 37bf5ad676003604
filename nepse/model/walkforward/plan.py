"""The walk-forward's plan: the panel as arrays, cut into blocks, each with its segments.

Test days (from `test_start` to `test_end`, days with at least one label) are cut into blocks
of `settings.retrain_every` consecutive trading days; each block gets a fresh model trained on
what is known the day before its first test day, with the segments (window, fit slice,
embargo, validation slice) of `nepse.model.segments`, the arithmetic the final model uses too.
The window is expanding or rolling per `settings.walk_forward_window`.

The panel is converted once (`prepare`) to one float64 matrix sorted by date, so every segment
is a contiguous row range [lo, hi), which is all a `BlockPlan` needs to carry. LightGBM's bins
(the only feature-distribution statistic it learns) come from the first block's fit slice,
i.e. from data strictly before the first test day (`nepse.model.walkforward.jobs.binned`).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date

import numpy as np
import polars as pl

from nepse.errors import NotEnoughHistoryError
from nepse.model.data import (
    KEYS,
    LABEL,
    check_panel,
    feature_matrix,
    trading_days,
    training_target,
    years_before,
)
from nepse.model.lgbm import lgb_params, seed_free
from nepse.model.segments import segments
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
        """A short stable id of the block's segments (part of the checkpoint's run key)."""
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

    def rows(self, a: int, b: int) -> tuple[int, int]:
        """Row range of calendar days a..b inclusive (empty when b < a)."""
        if b < a:
            return (0, 0)
        return (int(self.day_start[max(a, 0)]), int(self.day_start[b + 1]))

    def fingerprint(self) -> str:
        """sha256 of the arrays a fit reads (part of the checkpoint's run key)."""
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
    rolling = settings.walk_forward_window == "rolling"
    plans = []
    for k, i in enumerate(range(0, len(test_idx), size)):
        blk = test_idx[i : i + size]
        s, e = int(blk[0]), int(blk[-1])
        # Trained on what is known the day before the block's first test day.
        seg = segments(days, s - 1, settings, rolling=rolling)
        fit_rows = prep.rows(seg.train_start, seg.fit_end)
        valid_rows = prep.rows(seg.valid_start, seg.train_end)
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
                train_start=days[seg.train_start],
                fit_end=days[seg.fit_end],
                valid_start=days[seg.valid_start],
                train_end=days[seg.train_end],
                n_test_days=e - s + 1,
                fit_rows=fit_rows,
                valid_rows=valid_rows,
                train_rows=prep.rows(seg.train_start, seg.train_end),
                test_rows=prep.rows(s, e),
            )
        )
    return plans


@dataclass
class Plan:
    """A prepared walk-forward: its panel arrays, blocks, seeds and baseline groups."""

    prep: PreparedPanel
    blocks: list[BlockPlan]
    seeds: list[int]
    baselines: bool
    seconds_prepare: float
    fit_seeds: list[int] = field(default_factory=list)
    """Seeds actually fitted: all of them, or only the first when the seed cannot change a fit
    (`seed_free`); the others then reuse its result."""


def make_plan(
    panel: pl.DataFrame,
    *,
    feature_names: list[str],
    categorical: list[str],
    settings: Settings,
    test_start: date | None = None,
    test_end: date | None = None,
    seeds: Sequence[int] | None = None,
    baselines: bool = True,
) -> Plan:
    """Check and prepare the panel and cut it into blocks."""
    t = time.perf_counter()
    check_panel(panel, feature_names, categorical, where="walk_forward")
    seeds = list(settings.seeds if seeds is None else seeds)
    if not seeds:
        raise ValueError("walk_forward: seeds is empty; pass at least one seed")
    prep = prepare(panel, feature_names=feature_names, categorical=categorical, settings=settings)
    blocks = plan_blocks(prep, settings, test_start=test_start, test_end=test_end)
    fit_seeds = seeds[:1] if seed_free(lgb_params(settings, seeds[0])) else list(seeds)
    return Plan(prep, blocks, seeds, baselines, time.perf_counter() - t, fit_seeds)
