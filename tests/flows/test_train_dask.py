"""The walk-forward subflow on a local Dask cluster of 2 worker processes = the serial run."""

from __future__ import annotations

import pytest
from polars.testing import assert_frame_equal

from nepse.model.summary import WalkForwardResult
from nepse.model.walkforward import walk_forward
from nepse.settings import load_settings
from tests.unit.model.panels import make_panel

FAST = {
    "NEPSE_RETRAIN_EVERY": "20",
    "NEPSE_VALID_DAYS": "15",
    "NEPSE_NUM_BOOST_ROUND": "20",
    "NEPSE_EARLY_STOPPING_ROUNDS": "5",
    "NEPSE_SEEDS": "[0, 1]",
    "NEPSE_LGBM_PARAMS": '{"learning_rate": 0.1, "num_threads": 2}',
    "NEPSE_DASK_WORKERS": "2",
    # The fanned-out plan reads the label view (training_view): with close_to_close it is y_ret
    # itself, as in the serial walk_forward this test compares it with.
    "NEPSE_LABEL": "close_to_close",
}


def test_walk_forward_on_two_dask_workers_equals_serial(prefect_harness, tmp_path, monkeypatch):
    from prefect_dask import DaskTaskRunner

    from flows.train import walk_forward as walk_forward_flow
    from tasks.train import PanelSource, add_progress_hook, clear_progress_hooks

    for k, v in FAST.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("NEPSE_DATA_DIR", str(tmp_path / "data"))
    panel, features, categorical = make_panel(30, 170, n_noise=1, seed=4)
    days = panel.get_column("date").unique().sort().to_list()
    monkeypatch.setenv("NEPSE_TEST_START", days[100].isoformat())
    settings = load_settings()
    assert settings.seeds == (0, 1) and settings.dask_workers == 2
    path = tmp_path / "panel.parquet"
    panel.write_parquet(path)
    # Serial, in this process, with 2 LightGBM threads per fit.
    serial = walk_forward(panel, feature_names=features, categorical=categorical, settings=settings)

    seen = []
    add_progress_hook(lambda done, total, eta, label: seen.append((done, total)))
    source = PanelSource(str(path), feature_names=tuple(features), categorical=tuple(categorical))
    runner = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": 2,
            "processes": True,
            "threads_per_worker": 1,
            "dashboard_address": None,
        }
    )
    try:
        done = walk_forward_flow.with_options(task_runner=runner)(source)
        # A rerun finds every job checkpointed and fits nothing.
        again = walk_forward_flow.with_options(task_runner=runner)(source)
    finally:
        clear_progress_hooks()
    n_jobs = serial.blocks.height * 2 + 1  # 3 blocks x 2 seeds + one baseline group
    assert done.n_jobs == n_jobs and done.n_fitted == n_jobs
    assert again.n_fitted == 0
    assert seen[-1] == (n_jobs, n_jobs) and len(seen) == 2 * n_jobs
    fanned = WalkForwardResult.load(done.path)
    # 1 LightGBM thread per fit on the workers (2 cores / 2 workers) vs 2 threads serially:
    # deterministic row-wise histograms give the same trees.
    for name in ("summary", "predictions", "baseline_predictions", "importance", "daily"):
        assert_frame_equal(
            getattr(fanned, name), getattr(serial, name), check_exact=False, abs_tol=1e-9
        )
    assert fanned.rank_ic() == pytest.approx(serial.rank_ic(), abs=1e-9)
    assert fanned.blocks["best_iteration"].to_list() == serial.blocks["best_iteration"].to_list()
