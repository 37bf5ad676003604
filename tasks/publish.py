"""The daily run's last task: report index, artifacts, alerts."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger

from nepse.app import daily, publish, texts
from runs.settings import settings
from runs.slot import holds_writer_slot
from tasks.common import timed


@task(name="publish-results")
@holds_writer_slot
@timed
def publish_results(
    scored: daily.ScoredDay,
    gate: daily.GateResult,
    drift: publish.DriftSummary | None,
    drift_error: str | None,
    verdict: daily.MonitorVerdict,
    paper: publish.PaperTraded | None = None,
) -> publish.Published:
    """Rewrite the report index, publish the day (the API's copy) and the run's artifacts, list
    its alerts."""
    s = settings()
    out = publish.publish_day(s, scored, gate, drift, drift_error, verdict, paper)
    shown = texts.daily_texts(s, scored, gate, out.drift, verdict, out.summary.report_index, paper)
    create_markdown_artifact(
        key="daily-summary", markdown=shown.markdown, description=shown.description
    )
    create_table_artifact(
        key="daily-predictions", table=list(shown.table), description=shown.table_description
    )
    if shown.orders is not None:
        create_table_artifact(
            key="next-session-orders", table=list(shown.orders), description=shown.orders_note
        )
    for link in shown.links:
        create_link_artifact(
            key=link.key, link=link.url, link_text=link.text, description=link.description
        )
    get_run_logger().info(
        "published %s: %d alert(s); index %s",
        out.summary.message,
        len(out.alerts),
        out.summary.report_index,
    )
    return out
