"""The `daily-predictions` and `train-model` flows on the Prefect test harness.

One small sample market (30 equities x 2 years) is ingested and a champion trained once per
module; each test then works on its own copy of that data folder.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest

from nepse.schema import DATASET_MARKER

pytestmark = pytest.mark.usefixtures("prefect_harness")

FAST_MODEL = {
    "NEPSE_SEEDS": "[0]",
    "NEPSE_RETRAIN_EVERY": "63",
    "NEPSE_NUM_BOOST_ROUND": "60",
    "NEPSE_EARLY_STOPPING_ROUNDS": "20",
    "NEPSE_VALID_DAYS": "40",
    "NEPSE_TEST_START": "2026-07-01",
    "NEPSE_DRIFT_CALIBRATION_DAYS": "200",
    # The sample market ends on 2026-11-20: without as_of a run would (rightly) find it stale
    # once the clock is past that; test_stale_feed_alerts_and_fails checks that case.
    "NEPSE_STALE_AFTER_MINUTES": "10000000",
}


def _env(monkeypatch, data_dir, **extra):
    for k, v in {**FAST_MODEL, **extra}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("NEPSE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("NEPSE_WEBHOOK_URL", raising=False)


def _texts(events) -> list[str]:
    return [e.payload["text"] for e in events]


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory, sample_dir):
    """A data folder with the sample ingested and a force-promoted champion."""
    from flows.ingest import ingest_prices
    from flows.train import train_model

    mp = pytest.MonkeyPatch()
    data = tmp_path_factory.mktemp("trained") / "data"
    _env(mp, data)
    try:
        ingest_prices(path=str(sample_dir))
        out = train_model(force_promote=True)
        assert out.promoted, out
    finally:
        mp.undo()
    return data


@pytest.fixture
def data_dir(trained_dir, tmp_path, monkeypatch):
    """A private copy of the trained data folder, with the environment pointing at it."""
    data = tmp_path / "data"
    shutil.copytree(trained_dir, data)
    # Model folders are recorded by absolute path: point the copy's registry at its own.
    con = duckdb.connect(str(data / "nepse.duckdb"))
    con.execute("UPDATE models SET path = replace(path, ?, ?)", [str(trained_dir), str(data)])
    con.close()
    _env(monkeypatch, data)
    return data


def _db(data_dir):
    return duckdb.connect(str(data_dir / "nepse.duckdb"), read_only=True)


def _run(**params):
    from flows.daily import daily_predictions

    state = daily_predictions(**params, return_state=True)
    return state, state.result(raise_on_failure=False)


def _champion_folder(data_dir):
    con = _db(data_dir)
    try:
        return con.execute("SELECT path FROM models WHERE status = 'champion'").fetchall()[0][0]
    finally:
        con.close()


def test_daily_run_scores_every_traded_equity_and_writes_drift(data_dir, sample_dir, monkeypatch):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    monkeypatch.setenv("NEPSE_REPORTS_BASE_URL", "http://reports.test:8765/")

    state, out = _run(source=str(sample_dir))
    assert state.is_completed(), state.message
    day = out.as_of
    con = _db(data_dir)
    try:
        traded = con.execute(
            "SELECT count(*) FROM prices p JOIN securities s USING (symbol) "
            "WHERE p.date = ? AND s.instrument_type = 'Equity' AND s.status = 'A'",
            [day],
        ).fetchall()[0][0]
        preds = con.sql("SELECT * FROM predictions WHERE date = ?", params=[day]).pl()
        drift = con.execute("SELECT html_path, n_columns FROM drift_reports").fetchall()
        ledger = con.sql("SELECT * FROM paper_ledger").pl()
        orders = con.sql("SELECT * FROM paper_orders WHERE date = ?", params=[day]).pl()
    finally:
        con.close()
    assert preds.height == traded == out.n_predictions > 10
    # The decision: the paper ledger's first day and tomorrow's orders, in DuckDB and Parquet.
    assert ledger.get_column("date").to_list() == [day] and ledger["decided"][0]
    assert orders.filter(pl.col("side") == "buy").height > 0
    assert pl.read_parquet(data_dir / "orders" / f"{day}.parquet").height == orders.height
    assert "Paper portfolio" in (data_dir / "reports" / "index.html").read_text()
    assert preds["model_role"].unique().to_list() == ["champion"]
    assert preds["flow_run_id"].unique().to_list() == [str(state.state_details.flow_run_id)]
    assert pl.read_parquet(data_dir / "predictions" / f"{day}.parquet").height == preds.height
    html = data_dir / "reports" / str(day) / f"drift-{out.model_version}.html"
    assert html.is_file() and html.stat().st_size > 100_000
    from nepse.features import FEATURE_SPEC
    from nepse.monitoring.comparable import drift_columns

    tested = drift_columns(list(FEATURE_SPEC.names), list(FEATURE_SPEC.categorical))
    assert drift[0][0] == str(html) and drift[0][1] == len(tested)  # every tested feature
    assert "Less or Equal" in html.read_text(encoding="utf-8")  # the verdict's own tests
    assert (data_dir / "models" / out.model_version / "drift_baseline.json").is_file()
    assert (data_dir / "reports" / "index.html").read_text().count(str(day)) >= 1
    from nepse.monitoring.workspace import recorded_runs

    [run] = recorded_runs(data_dir)
    assert (run.day, run.model_version) == (day, out.model_version)

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
            )
        )
    keys = {a.key for a in arts}
    assert {"daily-summary", "daily-predictions", "drift-report", "report-index"} <= keys
    assert {"next-session-orders", "paper-nav"} <= keys
    by_key = {a.key: a.data for a in arts}
    summary = by_key["daily-summary"]
    assert out.model_version in summary and "Top 10" in summary
    assert "Orders for the next session" in summary
    # What is predicted, in the label's words (the sample champion's label: the default).
    assert (
        "Predicted return = the return of buying at the next session's VWAP and selling at "
        "the VWAP 5 sessions later" in summary
    )
    assert "close-to-close" not in summary and "file://" not in summary
    # Links open from the Prefect UI: the reports server's URLs, never file://.
    assert (
        f"http://reports.test:8765/{day}/drift-{out.model_version}.html" in by_key["drift-report"]
    )
    assert "http://reports.test:8765/index.html" in by_key["report-index"]
    table = by_key["daily-predictions"]
    assert '"predicted return"' in table and '"pred_ret"' not in table
    # Started without as_of: named by the day it scored.
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(state.state_details.flow_run_id).name == f"daily-{day}"

    # Idempotent: the same day again replaces, never duplicates.
    state2, _ = _run(source=str(sample_dir))
    assert state2.is_completed()
    con = _db(data_dir)
    try:
        assert con.execute("SELECT count(*) FROM predictions").fetchall()[0][0] == preds.height
    finally:
        con.close()
    [again] = recorded_runs(data_dir)  # one Evidently run per day and model: replaced
    assert again.day == day and again.run != run.run


@pytest.mark.parametrize(
    "damage",
    ["corrupt", "delete", "cut-0", "cut-0.5", "cut-0.999", "resealed-0.5", "resealed-0.99"],
)
def test_broken_champion_falls_back_and_alerts(data_dir, sample_dir, damage, emitted):
    """A damaged champion: the run ends degraded on the fallback, alerts, and never crashes.

    LightGBM's parser aborts or segfaults on a truncated model.txt: the checksum written at
    save time is checked first, so the fallback chain runs instead.
    """
    from tests.unit.model.damage import truncate_and_reseal, truncate_model_file

    folder = _champion_folder(data_dir)
    model_file = f"{folder}/model.txt"
    if damage == "corrupt":
        with open(model_file, "w") as fh:
            fh.write("this is not a LightGBM model\n")
    elif damage.startswith("cut-"):
        truncate_model_file(folder, float(damage.removeprefix("cut-")))
    elif damage.startswith("resealed-"):  # cut, with a manifest regenerated to match
        truncate_and_reseal(folder, float(damage.removeprefix("resealed-")))
    else:
        shutil.rmtree(folder)
    state, out = _run(source=str(sample_dir))
    assert state.is_failed() and "fallback" in state.message
    con = _db(data_dir)
    try:
        roles = con.execute("SELECT DISTINCT model_role, model_version FROM predictions").fetchall()
    finally:
        con.close()
    # No previous champion exists here, so the naive baseline made every prediction.
    assert roles == [("naive_baseline", "naive-reversal-1d")]
    (event,) = emitted("nepse.alert.fallback")
    day = event.payload["day"]
    assert event.resource.id == f"nepse.daily.{day}" and out is None
    assert event.payload["model_version"] == "naive-reversal-1d"
    assert event.payload["numbers"]["model_role"] == "naive_baseline"
    text = event.payload["text"]
    assert "model fallback" in text and day in text and "naive-reversal-1d" in text
    # The link to the run that made the predictions (PREFECT_UI_URL-based).
    assert event.payload["flow_run_id"] and event.payload["flow_run_id"] in text


def test_a_daily_run_builds_its_features_once(data_dir, sample_dir, monkeypatch):
    """Scoring, drift and evaluation share one feature build (one panel per run)."""
    import nepse.features.panel as panel

    calls = []
    real = panel.build_features

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(panel, "build_features", counted)
    # The drift window (5 sessions by default) comes from the day's build too, even on a model's
    # first day when no earlier run saved anything for it.
    days = [d for d in _stored_days(data_dir)[-2:]]
    state, _ = _run(source=str(sample_dir), as_of=days[0])  # trains the first champion
    assert state.is_completed(), state.message
    calls.clear()
    state, out = _run(source=str(sample_dir), as_of=days[1])  # evaluates days[0] as well
    assert state.is_completed(), state.message
    assert out.drift_report is not None
    assert len(calls) == 1
    window = pl.read_parquet(
        next((data_dir / "work" / "scoring").glob(f"{days[1].isoformat()}-*.parquet"))
    )
    assert window["date"].n_unique() == 5 and window["date"].max() == days[1]
    # Each session carries the predictions published on it: the two scored days have them.
    scored = window.filter(pl.col("pred_ret").is_not_null())["date"].unique().sort().to_list()
    assert scored == days


def _stored_days(data_dir):
    con = _db(data_dir)
    try:
        return [
            r[0] for r in con.execute("SELECT DISTINCT date FROM prices ORDER BY date").fetchall()
        ]
    finally:
        con.close()


def test_drift_failure_keeps_predictions(data_dir, sample_dir, monkeypatch):
    import nepse.app.drift
    from nepse.errors import NepseError

    def boom(*args, **kwargs):
        raise NepseError("evidently exploded")

    monkeypatch.setattr(nepse.app.drift, "check", boom)
    state, out = _run(source=str(sample_dir))
    assert state.is_completed(), state.message
    assert out.drift_report is None and out.n_predictions > 10
    con = _db(data_dir)
    try:
        assert con.execute("SELECT count(*) FROM predictions").fetchall()[0][0] == out.n_predictions
        assert con.execute("SELECT count(*) FROM drift_reports").fetchall()[0][0] == 0
    finally:
        con.close()


def test_a_failed_drift_page_alerts_and_keeps_the_verdict(data_dir, sample_dir, emitted):
    """Evidently's page (rendered in the side process) cannot be written: the run completes,
    the day's verdict and predictions are stored, and the alert says the report failed and
    why; the index, which cannot be written either, keeps its last version."""
    shutil.rmtree(data_dir / "reports", ignore_errors=True)
    (data_dir / "reports").write_text("not a folder")  # neither page nor index can be written
    state, out = _run(source=str(sample_dir))
    assert state.is_completed(), state.message
    assert out.drift_report is None and out.n_predictions > 10
    failed = _texts(emitted("nepse.alert.drift-report"))
    assert len(failed) == 1 and "reports" in failed[0] and str(out.as_of) in failed[0]
    con = _db(data_dir)
    try:
        assert con.execute("SELECT count(*) FROM drift_reports").fetchall()[0][0] == 1
    finally:
        con.close()


def test_a_failed_workspace_run_alerts_and_keeps_the_page(data_dir, sample_dir, emitted):
    """The Evidently workspace cannot be written: the day's page is still linked, and the alert
    names the workspace."""
    shutil.rmtree(data_dir / "evidently", ignore_errors=True)
    (data_dir / "evidently").write_text("not a folder")
    state, out = _run(source=str(sample_dir))
    assert state.is_completed(), state.message
    assert out.drift_report is not None and out.drift_report.is_file()
    failed = _texts(emitted("nepse.alert.drift-report"))
    assert len(failed) == 1 and "Evidently workspace" in failed[0], failed


def test_an_edited_drift_baseline_is_an_integrity_error_and_an_alert(data_dir, sample_dir, emitted):
    """Someone lowers or raises the alarm lines by editing drift_baseline.json: the day is
    scored, but no drift verdict is drawn from the edited lines and a person is told."""
    baseline = Path(_champion_folder(data_dir)) / "drift_baseline.json"
    text = baseline.read_text()
    baseline.write_text(text.replace('"quantile": 0.', '"quantile": 0.0', 1))
    assert baseline.read_text() != text
    state, out = _run(source=str(sample_dir))
    assert state.is_completed(), state.message
    assert out.drift_report is None and out.n_predictions > 10
    failed = _texts(emitted("nepse.alert.drift-report"))
    assert failed and "drift_baseline.json is corrupt" in failed[0], failed
    con = _db(data_dir)
    try:
        assert con.execute("SELECT count(*) FROM drift_reports").fetchall()[0][0] == 0
    finally:
        con.close()


def test_quality_gate_blocks_a_bad_day(data_dir, tmp_path, emitted):
    """A day whose file is mostly rejected fails the run and writes no predictions."""
    from nepse.schema import DATASET_SAMPLE

    # Written next to the sample market's data: it is generated test data too.
    (tmp_path / DATASET_MARKER).write_text(DATASET_SAMPLE)
    bad = tmp_path / "today.csv"
    rows = ["symbol,date,open,high,low,close,volume,turnover"]
    rows += [f"S{i:03d},2026-11-23,10,9,11,0,100,1000" for i in range(40)]  # zero closes
    rows += ["S999,2026-11-23,10,11,9,10,100,1000"]
    bad.write_text("\n".join(rows) + "\n")
    # A day added to the sample market: marked as sample data, or the store refuses to mix it in.
    (tmp_path / DATASET_MARKER).write_text("sample\n")
    state, _ = _run(source=str(bad), as_of=date(2026, 11, 23))
    assert state.is_failed()
    assert "quality gate" in str(state.message) or "quality gate" in str(
        state.result(raise_on_failure=False)
    )
    con = _db(data_dir)
    try:
        assert con.execute("SELECT count(*) FROM predictions").fetchall()[0][0] == 0
    finally:
        con.close()
    (event,) = emitted("nepse.alert.quality-gate")
    assert event.resource.id == "nepse.daily.2026-11-23"
    assert event.payload["numbers"]["reject_share"] > 0.5
    assert "quality gate" in event.payload["text"] and "2026-11-23" in event.payload["text"]


def test_realised_performance_is_evaluated_when_actuals_arrive(data_dir, sample_dir):
    con = _db(data_dir)
    try:
        days = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT date FROM prices ORDER BY date DESC LIMIT 10"
            ).fetchall()
        ][::-1]
    finally:
        con.close()
    # The champion is judged on the label it was trained on (next-session VWAP, held 5
    # sessions): a day's outcome is known 6 sessions later, so the last day scores the first two.
    prev2, prev, last = days[0], days[1], days[-1]
    for d in (prev2, prev, last):
        state, _ = _run(source=str(sample_dir), as_of=d)
        assert state.is_completed(), state.message
    con = _db(data_dir)
    try:
        perf = con.sql("SELECT * FROM performance_daily ORDER BY date").pl()
    finally:
        con.close()
    assert perf["date"].to_list() == [prev2, prev]  # the last day's outcome is not known yet
    assert perf["n"].min() > 10
    assert perf["rank_ic"].is_not_null().all()
    # Days inside the champion's training window are in-sample: no rolling figure, and the
    # index shows "in-sample" instead of their Rank IC (issue 11 item 6).
    import json

    meta = json.loads((Path(_champion_folder(data_dir)) / "meta.json").read_text())
    end = date.fromisoformat(meta["train_end"])
    assert perf["in_sample"].to_list() == [d <= end for d in perf["date"].to_list()]
    assert (perf["rolling_rank_ic"].is_null() == perf["in_sample"]).all()
    index = (data_dir / "reports" / "index.html").read_text(encoding="utf-8")
    assert index.count("in-sample</span>") == sum(perf["in_sample"].to_list())

    # The Evidently regression-quality report for a period, on request.
    from typer.testing import CliRunner

    from flows.cli import app

    result = CliRunner().invoke(
        app, ["reports", "performance", "--from", str(prev2), "--to", str(last)]
    )
    assert result.exit_code == 0, result.output
    html = data_dir / "reports" / "performance" / f"performance-{prev2}-{last}.html"
    assert html.is_file() and html.stat().st_size > 100_000
    index = CliRunner().invoke(app, ["reports", "build"])
    assert index.exit_code == 0 and "3 report(s)" in index.output


def test_models_cli_lists_and_shows_the_champion(data_dir):
    from typer.testing import CliRunner

    from flows.cli import app

    listed = CliRunner().invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    assert "champion" in listed.output
    shown = CliRunner().invoke(app, ["models", "show"])
    assert shown.exit_code == 0, shown.output
    assert '"status": "champion"' in shown.output and "Limitations" in shown.output


def test_stale_feed_alerts_and_fails(data_dir, sample_dir, monkeypatch, emitted):
    # The sample market's last session is 2026-11-20; by the clock now it is behind.
    monkeypatch.setenv("NEPSE_STALE_AFTER_MINUTES", "60")
    con = _db(data_dir)
    try:
        before = con.execute("SELECT count(*) FROM predictions").fetchall()[0][0]
    finally:
        con.close()
    state, _ = _run(source=str(sample_dir))
    assert state.is_failed() and "stale data" in state.message, state.message
    assert "2026-11-20" in state.message
    (event,) = emitted("nepse.alert.stale-data")
    assert event.resource.id == "nepse.daily.2026-11-20" and event.payload["level"] == "error"
    assert "stale data" in event.payload["text"]
    con = _db(data_dir)
    try:
        assert con.execute("SELECT count(*) FROM predictions").fetchall()[0][0] == before
    finally:
        con.close()


def test_a_clock_a_year_behind_fails_the_run_and_scores_nothing(data_dir, sample_dir, monkeypatch):
    import nepse.ingest.service

    # The sample's sessions run to 2026-11-20; the machine's clock says 2025-11-20.
    monkeypatch.setattr(nepse.ingest.service, "today_in", lambda tz: date(2025, 11, 20))
    counts = "SELECT (SELECT count(*) FROM predictions), (SELECT count(*) FROM rejected_prices)"
    con = _db(data_dir)
    try:
        before = con.execute(counts).fetchall()
    finally:
        con.close()
    state, _ = _run(source=str(sample_dir))
    assert state.is_failed(), state.message
    assert "clock is behind by 365 day(s)" in state.message, state.message
    con = _db(data_dir)
    try:  # nothing scored, and no row rejected as a `future_date` by the wrong clock
        assert con.execute(counts).fetchall() == before
    finally:
        con.close()


@pytest.mark.parametrize("as_of", [date(2026, 11, 14), date(2026, 11, 15), date(2027, 1, 5)])
def test_an_as_of_that_is_not_a_trading_day_writes_nothing(data_dir, sample_dir, as_of):
    # A Saturday, a Sunday (the sample trades Monday-Friday in 2026) and a future day.
    state, _ = _run(source=str(sample_dir), as_of=as_of)
    assert not state.is_completed() or "nothing scored" in state.message, state.message
    assert "nothing scored" in state.message and str(as_of) in state.message
    con = _db(data_dir)
    try:
        assert con.execute("SELECT count(*) FROM predictions").fetchall()[0][0] == 0
    finally:
        con.close()


def test_a_permanent_source_failure_alerts(data_dir, monkeypatch, emitted):
    import tasks.fetch
    from nepse.errors import SourceError

    def gone(day):
        raise SourceError(f"NEPSE API answered HTTP 404 for {day} on every retry")

    monkeypatch.setattr(tasks.fetch, "fetch_and_ingest_day", gone)
    state, _ = _run(source="api", as_of=date(2026, 11, 20))
    assert state.is_failed()
    (event,) = emitted("nepse.alert.source")
    assert event.resource.id == "nepse.daily.2026-11-20"
    text = event.payload["text"]
    assert "price source failed" in text and "HTTP 404" in text and "2026-11-20" in text
