"""`nepse train` as an operator runs it: quiet logs, progress on the run, a complete model folder.

The command runs in its own process against the session's Prefect API, its walk-forward on the
default local Dask cluster, so every line its Dask workers and Prefect print is in its output.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.usefixtures("prefect_harness")

FAST = {
    "NEPSE_SEEDS": "[0, 1]",
    "NEPSE_RETRAIN_EVERY": "63",
    "NEPSE_NUM_BOOST_ROUND": "60",
    "NEPSE_EARLY_STOPPING_ROUNDS": "20",
    "NEPSE_VALID_DAYS": "40",
    "NEPSE_TEST_START": "2026-07-01",
    "NEPSE_DRIFT_CALIBRATION_DAYS": "200",
    "NEPSE_DASK_WORKERS": "2",
}
MODEL_FILES = {
    "model.txt",
    "meta.json",
    "feature_spec.json",
    "reference.parquet",
    "manifest.json",
    "card.md",
    "evaluation.html",
    "trading.html",
    "walkforward_daily.parquet",
    "drift_baseline.json",
}
"""What monitoring and people read in a model folder (the drift baseline adds Parquet files)."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_dir):
    """`nepse train` once on the ingested sample market: (completed process, data folder)."""
    from prefect.settings import PREFECT_API_URL

    from nepse.ingest.service import ingest_path
    from nepse.settings import load_settings

    data = tmp_path_factory.mktemp("train-cli") / "data"
    ingest_path(load_settings(data_dir=data), sample_dir, today=date(2026, 11, 20))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEPSE_")}
    env.update(FAST, NEPSE_DATA_DIR=str(data), PREFECT_API_URL=PREFECT_API_URL.value())
    env["COLUMNS"] = "200"
    nepse = [str(Path(sys.executable).parent / "nepse"), "train", "--force-promote"]
    started = datetime.now(UTC)
    proc = subprocess.run(nepse, env=env, cwd=REPO, capture_output=True, text=True, timeout=900)
    return proc, data, started


def test_a_successful_training_logs_no_error_and_no_dask_noise(trained):
    proc, _, _ = trained
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "ERROR" not in out and "Traceback" not in out, out
    assert "distributed." not in out and "8787" not in out, out
    assert "walk-forward 1 of" in out and "final model: fitting" in out, out


def test_the_run_is_named_by_day_and_carries_its_progress(trained):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        FlowRunFilter,
        FlowRunFilterName,
        LogFilter,
        LogFilterFlowRunId,
        LogFilterLevel,
    )

    _, _, started = trained
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=["train-as-of-2026-11-20"]))
        )
        # Other modules of the session train on the same sample day: this command's run is the
        # one that started after it was launched.
        (run,) = [r for r in runs if r.start_time and r.start_time >= started]
        assert run.state.is_completed()
        arts = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run.id]))
        )
        errors = client.read_logs(
            log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[run.id]), level=LogFilterLevel(ge_=40)
            )
        )
    progress = [a for a in arts if a.key == "training-progress"]
    assert len(progress) == 1 and progress[0].task_run_id is None  # on the flow run itself
    assert float(progress[0].data) == 100.0
    assert "registered" in progress[0].description
    assert {"walk-forward-metrics", "model-card"} <= {a.key for a in arts}
    assert errors == []


def test_the_model_folder_has_what_monitoring_reads(trained):
    _, data, _ = trained
    (folder,) = (data / "models").iterdir()
    assert {p.name for p in folder.iterdir()} >= MODEL_FILES
