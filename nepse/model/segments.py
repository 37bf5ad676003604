"""A fit's segments in trading days: training window, fit slice, embargo, validation slice.

Written once for the final model (`nepse.model.final`) and every walk-forward block
(`nepse.model.walkforward.plan`), so the walk-forward evaluates exactly the deployed procedure:

- `known_by`: the last day whose information may be used. A label at row day t is known at
  t + horizon, so the training window's last row day is `known_by - horizon`.
- The window starts at the first day (expanding) or `train_years` calendar years before its
  last row day (rolling).
- Validation slice: the window's last `valid_days` trading days. The fit slice ends `horizon`
  trading days before it (the embargo), so no fit label reaches into a validation date.

Indices are into the panel's own calendar (`nepse.model.data.trading_days`).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from nepse.model.data import years_before
from nepse.settings import Settings


@dataclass(frozen=True)
class Segments:
    """Day indices of one fit: window [train_start, train_end], fit slice, validation slice."""

    train_start: int
    fit_end: int
    valid_start: int
    train_end: int


def segments(days: Sequence[date], known_by: int, settings: Settings, *, rolling: bool) -> Segments:
    """The segments of a fit that may use what is known at the close of day `known_by`.

    `fit_end < train_start` means the window is too short for `valid_days` plus the embargo
    (the caller says how to fix it).
    """
    h = settings.horizon
    train_end = known_by - h
    train_start = 0
    if rolling and train_end >= 0:
        first = years_before(days[train_end], settings.train_years)
        train_start = bisect.bisect_left(days, first)
    valid_start = max(train_start, train_end - settings.valid_days + 1)
    return Segments(train_start, valid_start - h - 1, valid_start, train_end)
