"""The daily run's steps in the fast suite: the library's application layer and the tasks'
bodies (`.fn()`, no Prefect API), on a small sample market."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest
from prefect.logging import disable_run_logger

from nepse.app import daily, fetch, ingest
from nepse.errors import NepseError
from nepse.ingest.day import DayOutcome, FetchedDay
from nepse.ingest.report import IngestReport
from nepse.model.scoring import NAIVE_BASELINE


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A 30-equity, 1-year sample market in the ShareSansar folder format."""
    from nepse.devdata.sample import write_sample

    out = tmp_path_factory.mktemp("market")
    write_sample(out, symbols=30, years=1.0, seed=3)
    return out


@pytest.fixture
def env(settings, monkeypatch):
    """The tasks' settings (they load their own): the test's data folder."""
    monkeypatch.setenv("NEPSE_DATA_DIR", str(settings.data_dir))
    return settings


def _report(**kw) -> IngestReport:
    base = {"run_id": "r1", "source": "test", "fmt": "canonical", "rows_read": 10}
    base |= {"inserted": 10, "updated": 0, "unchanged": 0, "rejected": 0, "duplicates": 0}
    return IngestReport(**(base | kw))


def test_tasks_run_one_day_end_to_end_without_a_prefect_api(env, market):
    import tasks.daily
    import tasks.ingest

    with disable_run_logger():
        day = tasks.ingest.ingest_file_day.fn(str(market), None, check_fresh=False)
        assert day.status == "ok" and day.rows_read > 1000
        gate = tasks.daily.check_quality_gate.fn(day)
        assert gate.passed and gate.day == day.as_of, gate.reason
        assert tasks.daily.find_champion.fn() is None
        scored = tasks.daily.score_universe.fn(day.as_of)
        verdict = tasks.daily.evaluate_past_predictions.fn(scored, None)
    # No champion: the chain ends at the naive baseline, said so, and every prediction is kept.
    assert scored.model_role == NAIVE_BASELINE and scored.is_fallback
    stored = pl.read_parquet(scored.predictions_path)
    assert stored.height == scored.n > 20
    assert stored.get_column("date").unique().to_list() == [day.as_of]
    assert verdict.evaluated == 0  # the first scored day has no realised outcome yet


def test_a_predictions_file_that_cannot_be_written_leaves_the_database_as_it_was(env, market):
    from nepse.store import open_store

    day = ingest.ingest_file_day(env, market, None, check_fresh=False)
    blocker = env.data_dir / "predictions"
    blocker.write_text("a file where the folder should be\n")  # mkdir and the write fail
    with pytest.raises(NepseError, match=f"predictions of {day.as_of} cannot be written to"):
        daily.score_day(env, day.as_of)
    with open_store(env.database, read_only=True) as st:
        assert st.predictions(dates=[day.as_of]).height == 0


@pytest.mark.parametrize(
    ("status", "go_on", "ok", "alerts"),
    [
        ("ok", True, True, False),
        ("holiday", False, True, False),
        ("pending", False, False, False),
        ("not_yet", False, False, False),
        ("stale", False, False, True),
    ],
)
def test_each_day_status_decides_the_run(status, go_on, ok, alerts):
    day = DayOutcome(status=status, as_of=date(2026, 4, 2), asked=None, source="x", detail="why")
    decision = daily.decide_day(day)
    assert (decision.go_on, decision.ok, decision.alert is not None) == (go_on, ok, alerts)
    assert decision.message == ("" if go_on else "why")


def test_a_pending_api_day_is_never_reported_as_a_holiday(settings):
    d = date(2025, 8, 24)  # a Sunday session before NEPSE moved to Monday-Friday
    now = datetime(2025, 8, 24, 12, 0, tzinfo=UTC)  # 17:45 in Kathmandu, after the close
    fetched = FetchedDay(d, "pending", pages=1)
    out = fetch.api_day(settings, fetched, None, now=now)
    assert out.status == "pending"
    assert "pending" in out.detail and "holiday" not in out.detail.split(";")[0]
    confirmed = fetch.api_day(settings, FetchedDay(d, "holiday", pages=1), None, now=now)
    assert confirmed.status == "holiday"
    assert daily.decide_day(out).ok is False and daily.decide_day(confirmed).ok is True


def _calendar(days):
    from nepse.calendar import TradingCalendar

    return TradingCalendar.from_dates(pl.Series(days))


def test_day_choice_never_snaps_an_asked_day_to_an_earlier_one(settings):
    days = [date(2026, 3, 30), date(2026, 3, 31), date(2026, 4, 1), date(2026, 4, 2)]
    cal = _calendar(days)
    now = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
    kw = {"settings": settings, "report": _report(), "check_fresh": False, "now": now}
    assert ingest.choose_day(cal, None, **kw).as_of == date(2026, 4, 2)
    assert ingest.choose_day(cal, date(2026, 3, 31), **kw).as_of == date(2026, 3, 31)
    future = ingest.choose_day(cal, date(2026, 4, 9), **kw)
    assert future.status == "not_yet" and future.as_of == date(2026, 4, 9)
    saturday = ingest.choose_day(cal, date(2026, 3, 28), **kw)
    assert saturday.status == "holiday" and "nothing scored" in saturday.detail


def test_a_day_that_cannot_be_published_is_an_alert_and_the_api_keeps_the_last(env, market):
    from nepse.app import publish

    day = ingest.ingest_file_day(env, market, None, check_fresh=False)
    gate = daily.gate_day(env, day)
    scored = daily.score_day(env, day.as_of)
    verdict = daily.evaluate_past(env, scored, None)
    (env.data_dir / "published").write_text("a file where the folder should be\n")
    out = publish.publish_day(env, scored, gate, None, None, verdict)
    assert out.publish_error and str(day.as_of) in out.publish_error
    assert "nepse api publish" in out.publish_error
    assert [a.kind for a in out.alerts if a.kind == "publish"] == ["publish"]
    assert out.summary.report_index.exists()  # the rest of the day was published
