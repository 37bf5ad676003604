"""Where the walk-forward's jobs run: in this process, or on Dask workers (local or remote).

An executor takes the jobs and the `JobData` they read and yields `(job, result)` as each one
finishes, in any order. The driver (`nepse.model.walkforward.driver`) is the same whichever
runs them; so are the numbers (every fit is deterministic for its seed, see `lgb_params`).

`DaskExecutor` ships the data once per worker (`Client.scatter(broadcast=True)`) and each job
as a task argument, so a worker needs the `nepse` package and nothing else: no data directory,
no database, no Prefect API. Results come back through the scheduler.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from nepse.model.walkforward.jobs import BaselineFit, Job, JobData, SeedFit
from nepse.settings import Settings

Result = SeedFit | BaselineFit
RunJob = Callable[[Job, JobData], Result]


class Executor(Protocol):
    """Runs jobs, yielding each result as it is ready."""

    threads: int | None
    """LightGBM threads per fit (and random-forest jobs per baseline fit); None: the settings'."""

    def describe(self) -> str:
        """Where the jobs run, for logs."""
        ...

    def run(self, fn: RunJob, jobs: Sequence[Job], data: JobData) -> Iterator[tuple[Job, Result]]:
        """`fn(job, data)` for every job; yields (job, result) as each finishes."""
        ...


@dataclass(frozen=True)
class InProcess:
    """Every job in this process, one after the other (tests, notebooks, one-core layouts)."""

    threads: int | None = None

    def describe(self) -> str:
        """Where the jobs run."""
        return "in this process"

    def run(self, fn: RunJob, jobs: Sequence[Job], data: JobData) -> Iterator[tuple[Job, Result]]:
        """Run the jobs in order."""
        for job in jobs:
            yield job, fn(job, data)


@dataclass(frozen=True)
class DaskExecutor:
    """Jobs on Dask: the scheduler at `address`, else a local cluster of `workers` processes."""

    address: str | None = None
    workers: int = 2
    threads: int | None = None

    def describe(self) -> str:
        """Where the jobs run."""
        if self.address:
            return f"on the Dask scheduler {self.address}"
        return f"on {self.workers} local Dask worker process(es)"

    def run(self, fn: RunJob, jobs: Sequence[Job], data: JobData) -> Iterator[tuple[Job, Result]]:
        """Scatter `data` to every worker once, submit every job, yield results as they come."""
        from distributed import as_completed

        if not jobs:
            return
        with self._client() as client:
            shared = client.scatter(data, broadcast=True, hash=False)
            run_id = uuid.uuid4().hex[:8]
            futures = {
                client.submit(fn, job, shared, key=f"walk-forward-{job.name}-{run_id}"): job
                for job in jobs
            }
            for future in as_completed(futures):
                yield futures.pop(future), future.result()

    @contextlib.contextmanager
    def _client(self):
        """A client of the scheduler (or of a local cluster, closed with it); Dask's INFO lines
        are held back in this process meanwhile: a run's log shows its own progress."""
        from distributed import Client

        logger = logging.getLogger("distributed")
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            if self.address:
                with Client(self.address, timeout=60) as client:
                    yield client
            else:
                with _local_cluster(self.workers) as cluster, Client(cluster) as client:
                    yield client
        finally:
            logger.setLevel(level)


def _local_cluster(workers: int):
    """A local cluster of `workers` processes, one thread each."""
    import dask
    from distributed import LocalCluster

    # Worker processes forked from a clean fork server end without Python's teardown of
    # LightGBM, scikit-learn and Polars, which took over the nanny's 4 s under load (it then
    # killed them, with a warning): closing 2 workers 4.2-4.4 s -> 0.12-0.14 s. The
    # scheduler's HTTP server on a free port and no dashboard (8787 may be taken, and nothing
    # reads it).
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",
            scheduler_kwargs={"dashboard": False},
            silence_logs=logging.WARNING,
        )


@dataclass(frozen=True)
class Layout:
    """How the walk-forward's jobs share the machine."""

    workers: int
    """Local worker processes, or 0 with `address` (an existing scheduler)."""
    threads: int
    """LightGBM threads per fit (and per random-forest baseline)."""
    address: str | None = None


def layout(settings: Settings, cores: int | None = None) -> Layout:
    """Workers x threads that do not oversubscribe the cores (or the configured scheduler)."""
    if settings.dask_address:
        threads = int(settings.lgbm_params.get("num_threads") or 2)
        return Layout(workers=0, threads=threads, address=settings.dask_address)
    cores = cores or os.cpu_count() or 1
    workers = settings.dask_workers or cores
    return Layout(workers=workers, threads=max(1, cores // workers))


def executor_for(settings: Settings, cores: int | None = None) -> Executor:
    """The settings' executor: the scheduler at NEPSE_DASK_ADDRESS, else a local cluster of
    NEPSE_DASK_WORKERS processes (default: one per core), or this process when that is one."""
    lay = layout(settings, cores)
    if lay.address:
        return DaskExecutor(address=lay.address, threads=lay.threads)
    if lay.workers == 1:
        return InProcess(threads=lay.threads)
    return DaskExecutor(workers=lay.workers, threads=lay.threads)
