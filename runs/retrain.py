"""Starting `train-model` when drift has lasted NEPSE_RETRAIN_ON_DRIFT_DAYS sessions.

A daily run asks for a retraining with `start_retraining`: normally that starts the
`train-model` deployment at once (it queues for the writer slot behind the daily run). Inside a
replay (`retraining_deferred`, flows/replay.py) the request is handed to the replay instead,
which runs `train-model` itself before the next replayed day: a replayed request must not start
a real deployment run, and must happen in the replayed order.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import date

from runs.settings import logger

DEPLOYMENT = "train-model/train-model"

_deferred: contextvars.ContextVar[list[date] | None] = contextvars.ContextVar(
    "nepse_retrain_deferred", default=None
)


def start_retraining(day: date) -> None:
    """Start the `train-model` deployment (in a replay: tell the replay) after `day`'s run."""
    asked = _deferred.get()
    if asked is not None:
        asked.append(day)
        logger().warning("dataset drift on consecutive days: the replay trains after %s", day)
        return
    from prefect.deployments import run_deployment

    logger().warning("dataset drift on consecutive days: starting train-model")
    run_deployment(DEPLOYMENT, timeout=0)


@contextlib.contextmanager
def retraining_deferred() -> Iterator[list[date]]:
    """Within the block, retraining requests are collected (the days that asked), not started."""
    asked: list[date] = []
    token = _deferred.set(asked)
    try:
        yield asked
    finally:
        _deferred.reset(token)
