"""The one walk-forward driver: checkpointed, resumable, the same numbers whatever runs the jobs."""

from __future__ import annotations

import pickle
from dataclasses import dataclass

import numpy as np
import pytest
from polars.testing import assert_frame_equal

import nepse.model.walkforward.jobs as jobs_mod
import nepse.model.walkforward.plan as plan_mod
from nepse.model.walkforward import InProcess, walk_forward
from nepse.model.walkforward.executors import DaskExecutor, executor_for, layout
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
def case():
    panel, features, categorical = make_panel(30, 170, n_noise=1, seed=4)
    days = panel.get_column("date").unique().sort().to_list()
    settings = load_settings(**FAST, test_start=days[100], seeds=(0, 1))
    kw = {"feature_names": features, "categorical": categorical, "settings": settings}
    return panel, kw, walk_forward(panel, **kw)


def same(a, b) -> None:
    for name in ("summary", "predictions", "baseline_predictions", "importance", "daily"):
        assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=False, abs_tol=1e-12)
    assert a.blocks.drop("seconds_lightgbm", "seconds_baselines").equals(
        b.blocks.drop("seconds_lightgbm", "seconds_baselines")
    )


def fitted(monkeypatch) -> list[tuple[int, int]]:
    """Record every LightGBM fit (block, seed) the jobs make from now on."""
    calls: list[tuple[int, int]] = []
    real = jobs_mod.fit_block

    def spy(plan, data, seed):
        calls.append((plan.block, seed))
        return real(plan, data, seed)

    monkeypatch.setattr(jobs_mod, "fit_block", spy)
    return calls


def test_killed_run_resumes_without_refitting_finished_jobs(case, tmp_path, monkeypatch):
    panel, kw, plain = case
    calls = fitted(monkeypatch)
    seen = []

    def kill_after_four(p) -> None:
        seen.append(p)
        if p.fitted == 4:
            raise KeyboardInterrupt("killed mid-run")

    with pytest.raises(KeyboardInterrupt):
        walk_forward(panel, checkpoint_dir=tmp_path, progress=kill_after_four, **kw)
    assert len(calls) == 4  # 4 fits finished, each saved as it came back
    calls.clear()
    seen.clear()
    resumed = walk_forward(panel, checkpoint_dir=tmp_path, progress=seen.append, **kw)
    n_jobs = plain.blocks.height * 2 + 1  # 3 blocks x 2 seeds + one baseline group
    assert len(calls) == plain.blocks.height * 2 - 4  # only the unfinished fits ran again
    assert (seen[0].done, seen[0].total, seen[0].label) == (4, n_jobs, "checkpoint")
    assert resumed.info["jobs"]["fitted"] == n_jobs - 4
    same(resumed, plain)
    assert (tmp_path / resumed.info["checkpoint"] / "result" / "summary.parquet").is_file()
    calls.clear()
    again = walk_forward(panel, checkpoint_dir=tmp_path, **kw)
    assert calls == [] and again.info["jobs"]["fitted"] == 0  # a finished run refits nothing
    same(again, plain)


@dataclass(frozen=True)
class Reversed:
    """An executor that runs the jobs last first, each on its own unpickled copy of the data
    (as a worker process gets it: no binned Dataset, no shared memory)."""

    threads: int | None = None

    def describe(self) -> str:
        return "reversed, on copies"

    def run(self, fn, jobs, data):
        for job in reversed(jobs):
            yield job, fn(pickle.loads(pickle.dumps(job)), pickle.loads(pickle.dumps(data)))


def test_jobs_in_any_order_on_copied_data_give_the_same_result(case):
    panel, kw, plain = case
    same(walk_forward(panel, executor=Reversed(), **kw), plain)


def test_job_data_pickles_without_its_binned_dataset(case):
    panel, kw, _ = case
    plan = plan_mod.make_plan(panel, **kw)
    data = jobs_mod.job_data(plan, kw["settings"], threads=1)
    binned = data.binned()
    assert data.binned() is binned  # built once per process
    copy = pickle.loads(pickle.dumps(data))
    assert copy._binned is None and np.array_equal(copy.x, data.x, equal_nan=True)


def test_corrupt_checkpoint_is_refitted(case, tmp_path, monkeypatch):
    panel, kw, plain = case
    first = walk_forward(panel, checkpoint_dir=tmp_path, **kw)
    victim = tmp_path / first.info["checkpoint"] / "block-001-seed-0" / "fit.npz"
    victim.write_bytes(victim.read_bytes()[:50])
    calls = fitted(monkeypatch)
    again = walk_forward(panel, checkpoint_dir=tmp_path, **kw)
    assert calls == [(1, 0)]
    same(again, plain)


@pytest.mark.parametrize(
    ("workers", "cores", "expected"),
    [(0, 2, (2, 1)), (1, 2, (1, 2)), (0, 8, (8, 1)), (3, 8, (3, 2))],
)
def test_local_cluster_never_oversubscribes_the_cores(workers, cores, expected):
    lay = layout(load_settings(dask_workers=workers), cores=cores)
    assert (lay.workers, lay.threads) == expected and lay.workers * lay.threads <= cores
    remote = layout(load_settings(dask_address="tcp://10.0.0.5:8786"), cores=cores)
    assert remote.address == "tcp://10.0.0.5:8786" and remote.workers == 0


def test_executor_of_the_settings():
    assert executor_for(load_settings(dask_workers=1), cores=2) == InProcess(threads=2)
    assert executor_for(load_settings(dask_workers=0), cores=2) == DaskExecutor(
        workers=2, threads=1
    )
    remote = executor_for(load_settings(dask_address="tcp://10.0.0.5:8786"), cores=2)
    assert remote == DaskExecutor(address="tcp://10.0.0.5:8786", threads=2)


def test_seed_free_parameters_fit_each_block_once(case, monkeypatch):
    panel, kw, _ = case
    params = {"learning_rate": 0.1, "num_threads": 1, "bagging_fraction": 1.0}
    params["feature_fraction"] = 1.0
    s = kw["settings"].model_copy(update={"lgbm_params": params, "seeds": (0, 1, 2)})
    calls = fitted(monkeypatch)
    once = walk_forward(panel, **{**kw, "settings": s}, baselines=False)
    assert len(calls) == once.blocks.height  # one fit per block, not three
    monkeypatch.setattr(plan_mod, "seed_free", lambda p: False)
    calls.clear()
    every = walk_forward(panel, **{**kw, "settings": s}, baselines=False)
    assert len(calls) == 3 * every.blocks.height
    same(once, every)  # the seed could not change a fit: the same numbers
