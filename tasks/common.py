"""What every task shares: settings, the retry policy for transient I/O failures, step timing."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prefect.logging import get_run_logger
from prefect.tasks import exponential_backoff
from pydantic import SecretStr

from nepse.app import DatabaseLockedError, Settings, TransientSourceError, load_settings

# Retries with exponential backoff and jitter: 2 s, 4 s, 8 s (± 50 %).
RETRIES = 3
RETRY_DELAYS = exponential_backoff(backoff_factor=2)
RETRY_JITTER = 0.5

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


def settings() -> Settings:
    """Settings for this task run: environment plus the config file named by NEPSE_CONFIG, with
    the API token from the Prefect Secret block NEPSE_API_TOKEN_BLOCK when the environment has
    none."""
    s = load_settings()
    if s.api_token is None and s.api_token_block:
        from prefect.blocks.system import Secret

        token = Secret.load(s.api_token_block).get()
        s = s.model_copy(update={"api_token": SecretStr(str(token))})
    return s


def retry_on(*errors: type[BaseException]) -> Callable[[Any, Any, Any], bool]:
    """A `retry_condition_fn` that lets Prefect retry only when the failure is one of `errors`."""

    def should_retry(task: Any, task_run: Any, state: Any) -> bool:
        exc = state.result(raise_on_failure=False)
        return isinstance(exc, errors)

    should_retry.__name__ = "retry_on_" + "_or_".join(e.__name__ for e in errors)
    return should_retry


# The only failures worth retrying: another process holds the database, or the network hiccuped.
retry_transient = retry_on(DatabaseLockedError, TransientSourceError)

IO_RETRY = {
    "retries": RETRIES,
    "retry_delay_seconds": RETRY_DELAYS,
    "retry_jitter_factor": RETRY_JITTER,
    "retry_condition_fn": retry_transient,
}
