"""The retry policy of the tasks that fetch from a source: only transient failures, with backoff.

Prefect retries a source task only on `TransientSourceError` (`SOURCE_RETRY`: exponential
backoff 2/4/8 s with jitter). Prefect's retry delay is fixed per task, not per exception, so a
429/503 `Retry-After` is honoured inside the failing attempt (`retry_after_wait`): before
re-raising, the task sleeps the part of `Retry-After` (capped by `api_max_retry_after_s`) that
the coming backoff may not cover (jitter can shorten the backoff, so its shortest possible value
counts). The retry therefore starts no earlier than max(backoff, Retry-After), and the retry
count stays Prefect's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prefect.context import TaskRunContext
from prefect.tasks import exponential_backoff
from prefect.utilities.math import lower_clamp_multiple

from nepse.app import Settings, TransientSourceError

# Retries with exponential backoff and jitter: 2 s, 4 s, 8 s (± 50 %).
RETRIES = 3
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5


def retry_on(*errors: type[BaseException]) -> Callable[[Any, Any, Any], bool]:
    """A `retry_condition_fn` that lets Prefect retry only when the failure is one of `errors`."""

    def should_retry(task: Any, task_run: Any, state: Any) -> bool:
        exc = state.result(raise_on_failure=False)
        return isinstance(exc, errors)

    should_retry.__name__ = "retry_on_" + "_or_".join(e.__name__ for e in errors)
    return should_retry


# The only failure worth retrying: the network hiccuped. (A busy database is waited for, above.)
retry_transient = retry_on(TransientSourceError)

SOURCE_RETRY = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": RETRY_JITTER,
    "retry_condition_fn": retry_transient,
}


def retry_after_wait(exc: TransientSourceError, s: Settings) -> float:
    """Seconds this attempt must still sleep so the next one starts >= Retry-After from now."""
    ctx = TaskRunContext.get()
    if exc.retry_after is None or ctx is None:
        return 0.0
    task_ = ctx.task
    attempt = ctx.task_run.run_count  # 1 on the first attempt
    if attempt > task_.retries:
        return 0.0  # no retry follows: waiting helps nobody
    delays = task_.retry_delay_seconds or 0
    if isinstance(delays, Sequence):
        backoff = float(delays[min(attempt - 1, len(delays) - 1)]) if delays else 0.0
    else:
        backoff = float(delays)
    if task_.retry_jitter_factor:
        # Prefect's jitter may cut the delay down to this multiple of it.
        backoff *= lower_clamp_multiple(1 + task_.retry_jitter_factor)
    wanted = min(exc.retry_after, s.api_max_retry_after_s)
    return max(0.0, wanted - backoff)
