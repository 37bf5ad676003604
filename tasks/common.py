"""What every task shares: the timing line of its body (settings, the writer slot and retries
are a run's, in runs/)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prefect.logging import get_run_logger

F = TypeVar("F", bound=Callable[..., Any])


def timed(fn: F) -> F:
    """Log the seconds a task's own body takes (wall and process CPU) in the run's logs.

    Put it under `@task`: what Prefect adds around the body (state changes, result handling) is
    then the difference between the task run's duration in the UI and this line.
    bench/daily_run.py reads these lines to split a daily run into its parts.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            get_run_logger().info(
                "step %s: %.2f s (CPU %.2f s)",
                fn.__name__,
                time.perf_counter() - wall,
                time.process_time() - cpu,
            )

    return wrapper  # type: ignore[return-value]
