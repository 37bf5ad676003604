"""A run's progress artifact, moved by the library's progress callbacks."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact
from prefect.logging import get_run_logger


def start_progress(key: str, description: str) -> UUID:
    """A progress artifact at 0 % (call it in the flow, so it sits on the flow run)."""
    return create_progress_artifact(0.0, key=key, description=description)


def reporter(artifact: UUID | None, lo: float, hi: float) -> Callable[[float, str], None]:
    """(fraction, text) -> a log line, and the artifact moved to lo..hi percent."""
    logger = get_run_logger()

    def report(fraction: float, text: str) -> None:
        logger.info(text)
        if artifact is not None:
            update_progress_artifact(artifact, lo + (hi - lo) * fraction, description=text)

    return report
