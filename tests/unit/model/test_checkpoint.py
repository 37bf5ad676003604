"""Checkpointed and fanned-out walk-forwards: same numbers as the serial run, resumable."""

from __future__ import annotations

import pytest
from polars.testing import assert_frame_equal

import nepse.model.fanout as fanout
import nepse.model.walkforward as wf
from nepse.model.checkpoint import Checkpoint
from nepse.settings import load_settings
from tests.unit.model.panels import make_panel

FAST = {
    "retrain_every": 20,
    "valid_days": 15,
    "num_boost_round": 20,
    "early_stopping_rounds": 5,
    "lgbm_params": {"learning_rate": 0.1, "num_threads": 1},
}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    panel, features, categorical = make_panel(30, 170, n_noise=1, seed=4)
    days = panel.get_column("date").unique().sort().to_list()
    # close_to_close: the fanned-out plan's label view (nepse.features.labels.training_view) is
    # then y_ret itself, as in the serial walk_forward this test compares it with.
    settings = load_settings(**FAST, test_start=days[100], label="close_to_close")
    path = tmp_path_factory.mktemp("panel") / "panel.parquet"
    panel.write_parquet(path)
    kw = {"feature_names": features, "categorical": categorical, "settings": settings}
    serial = wf.walk_forward(panel, seeds=[0, 1], **kw)
    return panel, path, kw, serial


def same(a, b) -> None:
    for name in ("summary", "predictions", "baseline_predictions", "importance", "daily"):
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=False, abs_tol=1e-12)
    assert a.blocks.drop("seconds_lightgbm", "seconds_baselines").equals(
        b.blocks.drop("seconds_lightgbm", "seconds_baselines")
    )


def test_crashed_run_resumes_without_refitting_finished_blocks(case, tmp_path, monkeypatch):
    panel, _, kw, serial = case
    calls = []
    real = wf.fit_block

    def crash_on_fifth(plan, prep, settings, seed, **k):
        calls.append((plan.block, seed))
        if len(calls) == 5:
            raise KeyboardInterrupt("killed mid-run")
        return real(plan, prep, settings, seed, **k)

    monkeypatch.setattr(wf, "fit_block", crash_on_fifth)
    with pytest.raises(KeyboardInterrupt):
        wf.walk_forward(panel, seeds=[0, 1], checkpoint_dir=tmp_path, **kw)
    assert len(calls) == 5  # 4 fits finished and were saved
    calls.clear()
    resumed = wf.walk_forward(panel, seeds=[0, 1], checkpoint_dir=tmp_path, **kw)
    n_fits = serial.blocks.height * 2
    assert len(calls) == n_fits - 4  # only the unfinished fits ran again
    same(resumed, serial)
    calls.clear()
    wf.walk_forward(panel, seeds=[0, 1], checkpoint_dir=tmp_path, **kw)
    assert calls == []  # a finished run refits nothing


def test_jobs_in_any_order_in_another_plan_give_the_serial_result(case, tmp_path):
    _, path, kw, serial = case
    settings = kw["settings"]
    source = fanout.PanelSource(
        str(path), feature_names=tuple(kw["feature_names"]), categorical=tuple(kw["categorical"])
    )
    plan = fanout.cached_plan(source, settings.model_copy(update={"seeds": (0, 1)}))
    s = settings.model_copy(update={"seeds": (0, 1)})
    ck = fanout.checkpoint(plan, s, tmp_path, threads=1)
    jobs = fanout.jobs(plan)
    assert len(jobs) == plan.n_jobs == serial.blocks.height * 2 + len(plan.baseline_groups)
    done = [fanout.run_job(plan, j, s, ck, threads=1) for j in reversed(jobs)]
    assert not any(d.resumed for d in done)
    again = fanout.run_job(plan, jobs[0], s, ck, threads=1)
    assert again.resumed
    same(fanout.collect(plan, s, ck), serial)


def test_corrupt_checkpoint_is_refitted(case, tmp_path):
    panel, _, kw, serial = case
    wf.walk_forward(panel, seeds=[0, 1], checkpoint_dir=tmp_path, **kw)
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    victim = run / Checkpoint.seed_name(type("B", (), {"block": 1})(), 0) / "fit.npz"
    victim.write_bytes(victim.read_bytes()[:50])
    same(wf.walk_forward(panel, seeds=[0, 1], checkpoint_dir=tmp_path, **kw), serial)


@pytest.mark.parametrize(
    ("workers", "cores", "expected"),
    [(0, 2, (2, 1)), (1, 2, (1, 2)), (0, 8, (8, 1)), (3, 8, (3, 2))],
)
def test_local_cluster_never_oversubscribes_the_cores(workers, cores, expected):
    lay = fanout.layout(load_settings(dask_workers=workers), cores=cores)
    assert (lay.workers, lay.threads) == expected and lay.workers * lay.threads <= cores
    remote = fanout.layout(load_settings(dask_address="tcp://10.0.0.5:8786"), cores=cores)
    assert remote.address == "tcp://10.0.0.5:8786" and remote.workers == 0


def test_seed_free_parameters_fit_each_block_once(case, monkeypatch):
    panel, _, kw, _ = case
    params = {"learning_rate": 0.1, "num_threads": 1, "bagging_fraction": 1.0}
    params["feature_fraction"] = 1.0
    s = kw["settings"].model_copy(update={"lgbm_params": params})
    calls = []
    real = wf.fit_block
    monkeypatch.setattr(wf, "fit_block", lambda *a, **k: calls.append(1) or real(*a, **k))
    once = wf.walk_forward(panel, **{**kw, "settings": s}, seeds=[0, 1, 2], baselines=False)
    assert len(calls) == once.blocks.height  # one fit per block, not three
    monkeypatch.setattr(wf, "seed_free", lambda p: False)
    calls.clear()
    every = wf.walk_forward(panel, **{**kw, "settings": s}, seeds=[0, 1, 2], baselines=False)
    assert len(calls) == 3 * every.blocks.height
    same(once, every)  # the seed could not change a fit: the same numbers
