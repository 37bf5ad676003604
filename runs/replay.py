"""What a replay records about the runs it starts: each subflow's state and step times, the
alerts its tasks raised, and the season report as artifacts on the replay's own run.

Step times are Prefect's own record of each task run (its duration through the API), so a
replayed day's figures are what the runs cost, Prefect's part included. Alerts are taken from
the run loggers as `tasks/alerts.py` writes them ("ALERT [level] text"), in this process: the
replay runs its subflows in-process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from nepse.app.replay import SeasonReport

ALERT_FORMAT = "ALERT [%s] %s"
"""How tasks/alerts.py logs an alert (level, text)."""


class _Alerts(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[dict[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == ALERT_FORMAT and isinstance(record.args, tuple):
            level, text = record.args
            self.seen.append({"level": str(level), "text": str(text)})


@contextmanager
def alerts_raised() -> Iterator[list[dict[str, str]]]:
    """The alerts the runs in this process raise within the block, in order."""
    handler = _Alerts()
    target = logging.getLogger("prefect.task_runs")
    target.addHandler(handler)
    try:
        yield handler.seen
    finally:
        target.removeHandler(handler)


def run_subflow(fn: Callable[..., Any], **params: Any) -> tuple[dict[str, Any], Any]:
    """Run flow `fn` as a subflow; (its record: name, state, message, seconds, steps; result
    or None). A failed run is recorded, not raised: a replay goes on as the schedule would."""
    t = time.perf_counter()
    state = fn(**params, return_state=True)
    seconds = time.perf_counter() - t
    result = state.result(raise_on_failure=False)
    run_id = state.state_details.flow_run_id
    record = {
        "flow": getattr(fn, "name", fn.__name__),
        "run": _run_name(run_id),
        "state": state.type.value,
        "message": state.message or "",
        "seconds": round(seconds, 2),
        "steps": task_seconds(run_id),
    }
    return record, None if isinstance(result, BaseException) else result


def _run_name(run_id: Any) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).name


def task_seconds(run_id: Any) -> dict[str, float]:
    """Seconds of each task run of the flow run `run_id` (by task name; repeats summed)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    out: dict[str, float] = {}
    for run in runs:
        suffix = f"-{run.dynamic_key[:3]}"  # Prefect names a task's runs <task>-<key[:3]>
        name = run.name.removesuffix(suffix) if run.dynamic_key else run.name
        seconds = run.total_run_time.total_seconds() if run.total_run_time else 0.0
        out[name] = round(out.get(name, 0.0) + seconds, 3)
    return out


def publish_season(report: SeasonReport) -> None:
    """The season report on the replay's run: its summary, the days' table, the page's link."""
    create_markdown_artifact(
        key="season-summary", markdown=report.markdown, description=report.description
    )
    create_table_artifact(
        key="season-days", table=list(report.table), description="One row per replayed day"
    )
    if report.url:
        create_link_artifact(
            key="season-report",
            link=report.url,
            link_text="season report",
            description="The replayed season: NAV, orders, Rank IC, alarms, trainings, timings",
        )
