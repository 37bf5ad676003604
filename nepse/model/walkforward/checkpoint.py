"""Walk-forward checkpoints: each finished job's result on disk, so a killed run resumes.

Written by the driver, in the process that runs the walk-forward (the head node), as each
job's result comes back: the jobs themselves never see this folder.

Layout: `<dir>/<run key>/block-<k>-seed-<s>/` (the fitted model via `LGBModel.save`, plus
`fit.npz` with its test predictions and gains) and `<dir>/<run key>/baselines-<k>-<l>/`. The
run key is a hash of everything a fit's result depends on (the prepared arrays, the block plan,
the LightGBM settings and threads), so a checkpoint is only ever reused for an identical fit.
Each folder is written under a temporary name, sealed with checksums (`nepse.model.files`) and
renamed into place: a folder that exists is complete, and a corrupt one is refitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nepse.errors import ModelNotFoundError
from nepse.model import files
from nepse.model.lgbm import lgb_params
from nepse.model.walkforward.jobs import LIGHTGBM, BaselineFit, Job, SeedFit
from nepse.model.walkforward.plan import Plan
from nepse.model.walkforward.summary import WalkForwardResult
from nepse.settings import Settings

log = logging.getLogger(__name__)

FIT_ARRAYS = "fit.npz"
FIT_INFO = "seed_fit.json"
BASE_ARRAYS = "baselines.npz"
BASE_INFO = "baselines.json"


def run_key(plan: Plan, settings: Settings, num_threads: int | None = None) -> str:
    """Hash of what every fit of this walk-forward depends on."""
    params = lgb_params(settings, 0, num_threads=num_threads)
    params.pop("seed")
    spec = {
        "data": plan.prep.fingerprint(),
        "blocks": [b.key() for b in plan.blocks],
        "bins_seed": plan.seeds[0],
        "params": params,
        "num_boost_round": settings.num_boost_round,
        "early_stopping_rounds": settings.early_stopping_rounds,
        "label_transform": settings.label_transform,
    }
    text = json.dumps(spec, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Checkpoint:
    """The checkpoint folder of one walk-forward run."""

    folder: Path

    @classmethod
    def for_plan(
        cls, root: Path, plan: Plan, settings: Settings, num_threads: int | None = None
    ) -> Checkpoint:
        """The folder for this plan under `root` (created)."""
        folder = Path(root) / run_key(plan, settings, num_threads)
        folder.mkdir(parents=True, exist_ok=True)
        return cls(folder)

    def _write(self, name: str, fill) -> None:
        tmp = self.folder / f".{name}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        names = fill(tmp)
        files.seal(tmp, names)
        final = self.folder / name
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)

    def _read(self, name: str, names: list[str]) -> Path | None:
        folder = self.folder / name
        if not folder.is_dir():
            return None
        try:
            files.verify(folder, names)
        except ModelNotFoundError as exc:
            log.warning("checkpoint %s is unusable (%s); refitting", folder, exc)
            return None
        return folder

    def save_result(self, result: WalkForwardResult) -> Path:
        """Write the summarised result into `result/` next to the jobs' results."""
        return result.save(self.folder / "result")

    def load(self, job: Job) -> SeedFit | BaselineFit | None:
        """The saved result of `job`, or None (none saved, or unusable: refit)."""
        if job.kind == LIGHTGBM:
            return self._seed_fit(job.name)
        return self._baseline_fit(job.name)

    def save(self, job: Job, result: SeedFit | BaselineFit) -> None:
        """Persist the result of `job`."""
        if isinstance(result, SeedFit):
            self._write(job.name, lambda tmp: _fill_seed_fit(tmp, result))
        else:
            self._write(job.name, lambda tmp: _fill_baseline_fit(tmp, result))

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
