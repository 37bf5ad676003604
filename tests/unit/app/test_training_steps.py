"""Training's steps in the fast suite: the application layer and the tasks' bodies (`.fn()`, no
Prefect API), on a small sample market, every job in this process."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect.logging import disable_run_logger

from nepse.app import training as app
from nepse.model.walkforward import WalkForwardResult

FAST = {
    "NEPSE_SEEDS": "[0]",
    "NEPSE_RETRAIN_EVERY": "63",
    "NEPSE_NUM_BOOST_ROUND": "20",
    "NEPSE_EARLY_STOPPING_ROUNDS": "5",
    "NEPSE_VALID_DAYS": "40",
    "NEPSE_TEST_START": "2026-07-01",
    "NEPSE_DRIFT_CALIBRATION_DAYS": "120",
    "NEPSE_DASK_WORKERS": "1",  # one worker: the jobs run in this process
}
MONITORING_FILES = {"drift_baseline.json", "walkforward_daily.parquet"}


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    """A 30-equity, 2-year sample market (to 2026-11-20) ingested into a data folder."""
    from nepse.devdata.sample import write_sample
    from nepse.ingest.service import ingest_path
    from nepse.settings import load_settings

    out = tmp_path_factory.mktemp("market")
    write_sample(out, symbols=30, years=2.0, seed=3)
    data = tmp_path_factory.mktemp("train") / "data"
    ingest_path(load_settings(data_dir=data), out)
    return data


@pytest.fixture
def env(market, monkeypatch):
    """The tasks' settings (they load their own): the trained folder and short training."""
    from nepse.settings import load_settings

    for key, value in FAST.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("NEPSE_DATA_DIR", str(market))
    return load_settings()


def test_the_tasks_steps_write_a_model_folder_monitoring_can_read(env):
    from tasks.train import build_training_panel, walk_forward

    with disable_run_logger():
        panel = build_training_panel.fn(None)
        run = walk_forward.fn(panel)
    assert panel.as_of.isoformat() == "2026-11-20" and panel.labelled < panel.rows
    assert run.where == "in this process" and run.n_fitted == run.n_jobs > 0
    result = WalkForwardResult.load(Path(run.path))
    assert result.rank_ic() == run.rank_ic and result.info["n_blocks"] == run.n_blocks
    lines = []
    out = app.train_and_register(
        env, panel, run, force_promote=True, progress=lambda f, t: lines.append((f, t))
    )
    folder = Path(out.path)
    assert out.promoted and out.drift_baseline
    assert {p.name for p in folder.iterdir()} >= MONITORING_FILES | {"model.txt", "card.md"}
    assert lines[0][1].startswith("final model: fitting") and lines[-1][0] == 1.0
    assert [f for f, _ in lines] == sorted(f for f, _ in lines)
    # A rerun finds every job checkpointed.
    with disable_run_logger():
        again = walk_forward.fn(panel)
    assert again.n_fitted == 0 and again.rank_ic == run.rank_ic
    assert app.metrics_table(run)[0]["model"] == "lightgbm"


def test_runs_are_named_by_the_day_they_train_on(env, monkeypatch):
    from runs.names import train_run_name as run_name

    assert run_name() == "train-as-of-2026-11-20"  # no as_of: the last stored day
    monkeypatch.setenv("NEPSE_DATA_DIR", str(env.data_dir.parent / "nothing-here"))
    assert run_name() == "train-as-of-latest"  # no store yet: the run itself will say so


def test_a_training_keeps_only_its_own_panel(env):
    from datetime import date

    first = app.build_training_panel(env, date(2026, 10, 30))
    second = app.build_training_panel(env, date(2026, 11, 20))
    panels = sorted(p.name for p in (env.data_dir / "work").glob("panel-*.parquet"))
    assert panels == ["panel-2026-11-20.parquet"] and Path(second.path).is_file()
    assert not Path(first.path).exists()
