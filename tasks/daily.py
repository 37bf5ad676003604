"""Tasks of the daily run: gate the day, find the champion, score, check drift, evaluate."""

from __future__ import annotations

from datetime import date

from prefect import task
from prefect.logging import get_run_logger
from prefect.runtime import flow_run

from nepse.app import daily, drift, paper
from runs.settings import settings
from runs.slot import holds_writer_slot
from tasks.common import timed


@task(name="check-quality-gate")
@holds_writer_slot
@timed
def check_quality_gate(day: daily.DayOutcome) -> daily.GateResult:
    """May the day be scored? Its prices must be stored and its rejects within the limit."""
    gate = daily.gate_day(settings(), day)
    get_run_logger().info("quality gate %s: %s", "passed" if gate.passed else "FAILED", gate.reason)
    return gate


@task(name="find-champion")
@holds_writer_slot
@timed
def find_champion() -> str | None:
    """The champion model's version, or None when the registry has none."""
    version = daily.champion_version(settings())
    get_run_logger().info("champion: %s", version or "none yet")
    return version


@task(name="score-universe")
@holds_writer_slot
@timed
def score_universe(as_of: date) -> daily.ScoredDay:
    """Build the day's features once, score every active equity (champion, else fallbacks),
    store the predictions, and save the drift window and the labels of earlier days."""
    scored = daily.score_day(settings(), as_of, flow_run_id=flow_run.get_id())
    get_run_logger().info(
        "scored %d equities on %s with %s (%s)%s",
        scored.n,
        as_of,
        scored.model_version,
        scored.model_role,
        f"; fallback because: {' | '.join(scored.problems)}" if scored.problems else "",
    )
    return scored


@task(name="check-drift")
@holds_writer_slot
@timed
def check_drift(scored: daily.ScoredDay) -> drift.DriftSummary:
    """Calibrated drift of the last N sessions against the model's training-period reference."""
    summary = drift.check_drift(settings(), scored)
    get_run_logger().info(
        "drift verdict %s in %.2fs; report %s (rendering)",
        "ALARM" if summary.dataset_drift else "ok",
        summary.seconds,
        summary.html_path,
    )
    return summary


@task(name="evaluate-past-predictions")
@holds_writer_slot
@timed
def evaluate_past_predictions(
    scored: daily.ScoredDay, summary: drift.DriftSummary | None
) -> daily.MonitorVerdict:
    """Store the day's drift summary; score earlier predictions whose outcome is now known."""
    verdict = daily.evaluate_past(settings(), scored, summary)
    get_run_logger().info(
        "evaluated %d earlier prediction day(s); latest %s, rolling Rank IC %s",
        verdict.evaluated,
        verdict.date,
        verdict.rolling_rank_ic,
    )
    return verdict


@task(name="trade-paper-portfolio")
@holds_writer_slot
@timed
def trade_paper_portfolio(scored: daily.ScoredDay) -> paper.PaperTraded:
    """Fill yesterday's orders at today's prices, record the paper ledger's day, and write the
    orders for the next session."""
    out = paper.trade_paper_day(settings(), scored.as_of, run_id=flow_run.get_id())
    d = out.day
    get_run_logger().info(
        "paper portfolio %s: NAV Rs %.0f (%s), costs Rs %.0f, %d order(s) filled; %s",
        d.day,
        d.nav,
        "first day" if d.ret is None else f"{d.ret:+.2%}",
        d.costs,
        d.n_filled,
        d.note,
    )
    return out
