"""Walk-forward checkpoints: each finished fit on disk, so a crashed run resumes where it was.

Layout: `<dir>/<run key>/block-<k>-seed-<s>/` (the fitted model via `LGBModel.save`, plus
`fit.npz` with its test predictions and gains) and `<dir>/<run key>/baselines-<k>/`. The run key
is a hash of everything a fit's result depends on (the prepared arrays, the block plan, the
LightGBM settings and threads), so a checkpoint is only ever reused for an identical fit.
Each folder is written under a temporary name, sealed with checksums (`nepse.model.files`) and
renamed into place: a folder that exists is complete, and a corrupt one is refitted.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nepse.errors import ModelNotFoundError
from nepse.model import files
from nepse.model.blocks import BaselineFit, SeedFit
from nepse.model.lgbm import lgb_params
from nepse.model.plan import BlockPlan
from nepse.settings import Settings

if TYPE_CHECKING:
    from nepse.model.walkforward import Plan

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

    # --- LightGBM fits ---------------------------------------------------------------------
    @staticmethod
    def seed_name(block: BlockPlan, seed: int) -> str:
        """Folder name of one block x seed fit."""
        return f"block-{block.block:03d}-seed-{seed}"

    def save_seed_fit(self, block: BlockPlan, fit: SeedFit) -> None:
        """Persist one fit (model, predictions, statistics)."""

        def fill(tmp: Path) -> list[str]:
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

        self._write(self.seed_name(block, fit.seed), fill)

    def seed_fit(self, block: BlockPlan, seed: int) -> SeedFit | None:
        """The saved fit of this block and seed, or None."""
        folder = self._read(self.seed_name(block, seed), [FIT_ARRAYS, FIT_INFO])
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

    # --- baselines ---------------------------------------------------------------------------
    @staticmethod
    def baseline_name(group: Sequence[BlockPlan]) -> str:
        """Folder name of one baseline group."""
        return f"baselines-{group[0].block:03d}-{group[-1].block:03d}"

    def save_baseline_fit(self, group: Sequence[BlockPlan], fit: BaselineFit) -> None:
        """Persist one baseline group's predictions."""

        def fill(tmp: Path) -> list[str]:
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

        self._write(self.baseline_name(group), fill)

    def baseline_fit(self, group: Sequence[BlockPlan]) -> BaselineFit | None:
        """The saved baseline group, or None."""
        folder = self._read(self.baseline_name(group), [BASE_ARRAYS, BASE_INFO])
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
