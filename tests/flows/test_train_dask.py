"""Beyond one machine: walk-forward jobs on Dask workers that cannot read the data folder.

A scheduler and two `dask worker` processes run as `nobody` (root only; skipped with the reason
elsewhere), with no NEPSE_* or PREFECT_* variables: they see neither the data folder (mode 0700,
owned by root) nor the settings. The walk-forward the `train-model` flow runs
(`nepse.app.training.walk_forward`) must bring them everything, get the numbers of an
in-process run, and resume after its head process is killed without refitting what it had
checkpointed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from nepse.app import training as app
from nepse.devdata.dask_hosts import can_switch_user, dask_hosts
from nepse.model.walkforward import InProcess, WalkForwardResult
from nepse.settings import load_settings
from tests.conftest import REPO

FAST = {
    "seeds": (0, 1),
    "retrain_every": 42,
    "valid_days": 40,
    "num_boost_round": 40,
    "early_stopping_rounds": 10,
    "test_start": date(2026, 5, 1),
}
KILLED_AFTER = 3

HEAD = """
import json, sys, time
from datetime import date
from nepse.app import training as app
from nepse.settings import load_settings

fields = json.loads(sys.argv[1])
panel = app.TrainingPanel(**{**fields, "as_of": date.fromisoformat(fields["as_of"])})

def stop(fraction, text):
    print(text, flush=True)
    if text.startswith(f"walk-forward {sys.argv[2]} of"):
        print("CHECKPOINTED", flush=True)
        time.sleep(600)  # killed here by the test

app.walk_forward(load_settings(), panel, progress=stop)
"""


@pytest.fixture(scope="module")
def panel(tmp_path_factory, sample_dir):
    """The sample market ingested and its training panel, in a folder only root may read."""
    from nepse.ingest.service import ingest_path

    data = tmp_path_factory.mktemp("private") / "data"
    s = load_settings(data_dir=data, **FAST)
    ingest_path(s, sample_dir, today=date(2026, 11, 20))
    return s, app.build_training_panel(s)


def same(a: WalkForwardResult, b: WalkForwardResult) -> None:
    for name in ("summary", "predictions", "baseline_predictions", "importance", "daily"):
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=False, abs_tol=1e-9)
    assert a.blocks["best_iteration"].to_list() == b.blocks["best_iteration"].to_list()


# Workers as nobody cannot reach pyenv's 3.11.7 under /root: they run the venv on Debian's
# 3.11.2 (the same packages), as another host might.
@pytest.mark.filterwarnings("ignore::distributed.versions.VersionMismatchWarning")
def test_workers_without_the_data_folder_fit_the_same_models_and_resume_after_a_kill(
    panel, tmp_path
):
    why = can_switch_user("nobody")
    if why:
        pytest.skip(f"Dask workers as another user: {why}")
    from distributed import Client

    settings, tp = panel
    local = app.walk_forward(
        settings.model_copy(update={"data_dir": tmp_path / "local"}), tp, executor=InProcess()
    )
    with dask_hosts(2, user="nobody", log_dir=tmp_path) as address:
        with Client(address) as client:
            # The workers really cannot read the data folder (nor the panel in it).
            denied = client.submit(os.listdir, str(settings.data_dir), pure=False).exception()
            assert isinstance(denied, PermissionError), denied
            assert isinstance(client.submit(open, tp.path, pure=False).exception(), OSError)
        env = {
            **os.environ,
            "NEPSE_DATA_DIR": str(settings.data_dir),
            "NEPSE_DASK_ADDRESS": address,
            **{f"NEPSE_{k.upper()}": _env(v) for k, v in FAST.items()},
        }
        fields = json.dumps(asdict(tp), default=str)
        proc = subprocess.Popen(
            [sys.executable, "-c", HEAD, fields, str(KILLED_AFTER)],
            env=env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("CHECKPOINTED"):
                proc.send_signal(signal.SIGKILL)
                break
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL, "".join(lines)
        run_dir = settings.data_dir / "work" / "walkforward" / "jobs"  # the checkpointed jobs
        saved = {p.name: p.stat().st_ino for p in run_dir.iterdir() if not p.name.startswith(".")}
        assert len(saved) == KILLED_AFTER

        remote = app.walk_forward(settings.model_copy(update={"dask_address": address}), tp)
    assert remote.n_jobs == local.n_jobs and remote.n_fitted == remote.n_jobs - KILLED_AFTER
    assert remote.where == f"on the Dask scheduler {address}"
    # The killed run's checkpoints were read back, not written again.
    assert {n: (run_dir / n).stat().st_ino for n in saved} == saved
    same(WalkForwardResult.load(Path(remote.path)), WalkForwardResult.load(Path(local.path)))
    assert remote.rank_ic == pytest.approx(local.rank_ic, abs=1e-9)


def _env(value) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return str(value)
