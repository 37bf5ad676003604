"""The daily run's last task: report index, artifacts, alerts."""

from __future__ import annotations

from prefect import task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from prefect.logging import get_run_logger

from nepse.app import daily, publish, texts
from tasks.common import holds_writer_slot, settings, timed


@task(name="publish-results")
@holds_writer_slot
@timed
def publish_results(
    scored: daily.ScoredDay,
    gate: daily.GateResult,
    drift: publish.DriftSummary | None,
    drift_error: str | None,
    verdict: daily.MonitorVerdict,
) -> publish.Published:
    """Rewrite the report index, publish the run's artifacts, list its alerts."""
    s = settings()
    out = publish.publish_day(s, scored, gate, drift, drift_error, verdict)
    shown = texts.daily_texts(s, scored, gate, out.drift, verdict, out.summary.report_index)
    create_markdown_artifact(
        key="daily-summary", markdown=shown.markdown, description=shown.description
    )
    create_table_artifact(
        key="daily-predictions", table=list(shown.table), description=shown.table_description
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
