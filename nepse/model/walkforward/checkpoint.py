"""Walk-forward checkpoints: each finished job's result on disk, reused wherever the same job
meets the same data again: a killed run resumes, and a weekly retraining refits only the blocks
whose data changed.

Written by the driver, in the process that runs the walk-forward (the head node), as each
job's result comes back: the jobs themselves never see this folder.

Layout: `<dir>/jobs/<kind>-s<seed>-<job key>/` (a fit: the model via `LGBModel.save`, plus
`fit.npz` with its test predictions and gains; a baseline group: `baselines.npz`) and the
summarised result of each distinct walk-forward in `<dir>/runs/<run key>/result/`. A job key is
a hash of everything the job's result depends on (`job_key`): the rows of the day ranges it
reads (fit, validation and test days; for a fit also the bins' days and seed), as versions of
each day (`nepse.model.walkforward.days`: the same rows up to the feature pipeline's rounding
noise), the LightGBM and fit settings, the threads, the features; never the block's position
in the plan, which is restored on load. So a checkpoint is only reused for the same fit. Each
folder is written under a temporary name, sealed with checksums (`nepse.model.files`) and
renamed into place: a folder that exists is complete, and a corrupt one is refitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from nepse.errors import ModelNotFoundError
from nepse.model import files
from nepse.model.baselines import make_baselines
from nepse.model.lgbm import lgb_params
from nepse.model.walkforward.days import DayVersions
from nepse.model.walkforward.jobs import LIGHTGBM, BaselineFit, Job, SeedFit
from nepse.model.walkforward.plan import Plan
from nepse.model.walkforward.summary import WalkForwardResult
from nepse.settings import Settings

log = logging.getLogger(__name__)

FIT_ARRAYS = "fit.npz"
FIT_INFO = "seed_fit.json"
BASE_ARRAYS = "baselines.npz"
BASE_INFO = "baselines.json"


def _hash(spec: object) -> str:
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def job_key(
    job: Job, plan: Plan, days: DayVersions, settings: Settings, num_threads: int | None = None
) -> str:
    """Hash of what `job`'s result depends on (module doc): the versions of the days it reads
    (`days`), the settings, not its place in the plan."""
    prep = plan.prep
    spec: dict = {
        "kind": job.kind,
        "seed": job.seed,
        "features": [prep.feature_names, prep.categorical],
        "threads": lgb_params(settings, 0, num_threads=num_threads)["num_threads"],
    }
    if job.kind == LIGHTGBM:
        (b,) = job.blocks
        first = plan.blocks[0]  # LightGBM's bins come from the first block's fit slice
        params = lgb_params(settings, job.seed, num_threads=num_threads)
        spec.update(
            params=params,
            num_boost_round=settings.num_boost_round,
            early_stopping_rounds=settings.early_stopping_rounds,
            label_transform=settings.label_transform,
            bins=[days.digest(first.train_start, first.fit_end), plan.seeds[0]],
            fit=days.digest(b.train_start, b.fit_end),
            valid=days.digest(b.valid_start, b.train_end),
            test=days.digest(b.test_start, b.test_end),
        )
    else:
        models = make_baselines(prep.feature_names, prep.categorical, seed=job.seed)
        spec.update(
            baselines=[[type(m).__name__, m.name, m.retrain_every_blocks] for m in models],
            blocks=[
                [days.digest(b.train_start, b.train_end), days.digest(b.test_start, b.test_end)]
                for b in job.blocks
            ],
        )
    return _hash(spec)


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint folder shared by every walk-forward of a data folder, seen by one plan."""

    root: Path
    keys: dict[Job, str]
    """Each job of the plan with its job key."""
    folder: Path
    """This walk-forward's own folder (its summarised result goes to `result/`)."""

    @classmethod
    def for_plan(
        cls, root: Path, plan: Plan, jobs: list[Job], settings: Settings,
        num_threads: int | None = None,
    ) -> Checkpoint:  # fmt: skip
        """The checkpoint under `root` for `jobs` of `plan` (folders created)."""
        days = DayVersions(root, plan.prep)
        keys = {job: job_key(job, plan, days, settings, num_threads) for job in jobs}
        run = _hash([[job.label, keys[job]] for job in jobs] + [plan.seeds, settings.cost_bps])
        folder = Path(root) / "runs" / run
        folder.mkdir(parents=True, exist_ok=True)
        (Path(root) / "jobs").mkdir(exist_ok=True)
        return cls(Path(root), keys, folder)

    def _name(self, job: Job) -> str:
        return f"{job.kind}-s{job.seed}-{self.keys[job]}"

    def _write(self, name: str, fill) -> None:
        jobs = self.root / "jobs"
        tmp = jobs / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        names = fill(tmp)
        files.seal(tmp, names)
        final = jobs / name
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)

    def _read(self, name: str, names: list[str]) -> Path | None:
        folder = self.root / "jobs" / name
        if not folder.is_dir():
            return None
        try:
            files.verify(folder, names)
        except ModelNotFoundError as exc:
            log.warning("checkpoint %s is unusable (%s); refitting", folder, exc)
            return None
        return folder

    def save_result(self, result: WalkForwardResult) -> Path:
        """Write the summarised result into this walk-forward's `result/`."""
        return result.save(self.folder / "result")

    def load(self, job: Job) -> SeedFit | BaselineFit | None:
        """The saved result of `job` placed at its blocks in this plan, or None (none saved, or
        unusable: refit)."""
        if job.kind == LIGHTGBM:
            fit = self._seed_fit(self._name(job))
            return None if fit is None else replace(fit, block=job.blocks[0].block)
        group = self._baseline_fit(self._name(job))
        if group is None or len(group.blocks) != len(job.blocks):
            return None
        at = dict(zip(group.blocks, (b.block for b in job.blocks), strict=True))
        return replace(
            group,
            blocks=tuple(at[k] for k in group.blocks),
            fit_at={n: [at[k] for k in ks] for n, ks in group.fit_at.items()},
            seconds={at[k]: v for k, v in group.seconds.items()},
        )

    def save(self, job: Job, result: SeedFit | BaselineFit) -> None:
        """Persist the result of `job`."""
        if isinstance(result, SeedFit):
            self._write(self._name(job), lambda tmp: _fill_seed_fit(tmp, result))
        else:
            self._write(self._name(job), lambda tmp: _fill_baseline_fit(tmp, result))

    def _seed_fit(self, name: str) -> SeedFit | None:
        folder = self._read(name, [FIT_ARRAYS, FIT_INFO])
        if folder is None:
            return None
        info = json.loads((folder / FIT_INFO).read_text())
        with np.load(folder / FIT_ARRAYS) as arrays:
            pred, gains = arrays["pred"], arrays["gains"]
        return SeedFit(
            block=info["block"],
            seed=info["seed"],
            pred=pred,
            gains=gains,
            best_iteration=info["best_iteration"],
            intercept=info["intercept"],
            slope=info["slope"],
            seconds=info["seconds"],
        )

    def _baseline_fit(self, name: str) -> BaselineFit | None:
        folder = self._read(name, [BASE_ARRAYS, BASE_INFO])
        if folder is None:
            return None
        info = json.loads((folder / BASE_INFO).read_text())
        with np.load(folder / BASE_ARRAYS) as arrays:
            pred = {name: arrays[name] for name in info["names"]}
        return BaselineFit(
            blocks=tuple(info["blocks"]),
            pred=pred,
            fit_at={k: list(v) for k, v in info["fit_at"].items()},
            seconds={int(k): v for k, v in info["seconds"].items()},
            every=info["every"],
        )


def _fill_seed_fit(tmp: Path, fit: SeedFit) -> list[str]:
    names = [FIT_ARRAYS, FIT_INFO]
    if fit.model is not None:
        fit.model.save(tmp)
        names += ["model.txt", "fit.json"]
    np.savez(tmp / FIT_ARRAYS, pred=fit.pred, gains=fit.gains)
    info = {
        "block": fit.block,
        "seed": fit.seed,
        "best_iteration": fit.best_iteration,
        "intercept": fit.intercept,
        "slope": fit.slope,
        "seconds": fit.seconds,
    }
    (tmp / FIT_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return names


def _fill_baseline_fit(tmp: Path, fit: BaselineFit) -> list[str]:
    np.savez(tmp / BASE_ARRAYS, **fit.pred)
    info = {
        "blocks": list(fit.blocks),
        "names": list(fit.pred),
        "fit_at": fit.fit_at,
        "seconds": {str(k): v for k, v in fit.seconds.items()},
        "every": fit.every,
    }
    (tmp / BASE_INFO).write_text(json.dumps(info, indent=2) + "\n")
    return [BASE_ARRAYS, BASE_INFO]
