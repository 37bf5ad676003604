"""Model registry: the store's `models` table (nepse/store/models.py) plus a folder per version.

A version folder holds model.txt (LightGBM text model), meta.json, feature_spec.json,
reference.parquet (training-window sample with in-sample predictions, for drift), card.md and
evaluation.html. The `models` table holds one row per version with its status:
candidate -> champion -> retired. At most one champion exists at a time.

Promotion rule (`register`): a new model becomes champion only if its walk-forward Rank IC
beats the current champion's by more than `promote_margin_champion` AND every baseline's
(on the same test rows) by more than `promote_margin_baseline`; otherwise it stays a candidate
with the reason recorded. `force_promote=True` skips the rule (and records that it did).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nepse.errors import ModelNotFoundError
from nepse.model.card import model_card
from nepse.model.final import TrainedModel
from nepse.model.report import write_evaluation_report
from nepse.model.walkforward import MODEL, WalkForwardResult
from nepse.settings import Settings
from nepse.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegistryDecision:
    """What `register` did with a new model, and why."""

    version: str
    status: str
    promoted: bool
    reason: str
    rank_ic: float | None
    champion_version: str | None
    champion_rank_ic: float | None
    baseline_rank_ic: dict[str, float | None]
    path: Path


def new_version(fingerprint: str, when: datetime | None = None) -> str:
    """A sortable version id: UTC timestamp + 6 hex chars of data fingerprint and clock."""
    when = when or datetime.now(UTC)
    salt = hashlib.sha256(f"{fingerprint}{when.isoformat()}".encode()).hexdigest()[:6]
    return f"{when:%Y%m%d-%H%M%S}-{salt}"


def list_models(store: Store) -> list[dict[str, Any]]:
    """Every registered model, newest first (JSON columns decoded)."""
    return [get(store, v) for v in store.model_versions()]


def get(store: Store, version: str) -> dict[str, Any]:
    """One model's registry row; ModelNotFoundError if the version is unknown."""
    row = store.model_row(version)
    if row is None:
        raise ModelNotFoundError(
            f"model version {version!r} is not in the registry; list versions with "
            "`nepse models list`"
        )
    return row


def champion(store: Store) -> dict[str, Any] | None:
    """The current champion's row, or None when no model has been promoted."""
    return store.champion_row()


def previous_champion(store: Store) -> dict[str, Any] | None:
    """The model the current champion replaced (what `rollback` restores), or None."""
    current = champion(store)
    if current is None or not current["previous_champion"]:
        return None
    return store.model_row(current["previous_champion"])


def promote(store: Store, version: str, *, reason: str | None = None) -> None:
    """Make `version` the champion (no metric check), retiring the current one."""
    get(store, version)
    current = champion(store)
    if current is not None and current["version"] == version:
        return
    store.set_champion(
        version,
        previous=current["version"] if current else None,
        reason=reason or "promoted by hand",
    )
    logger.info("promoted model %s (was %s)", version, current["version"] if current else None)


def rollback(store: Store) -> str:
    """Retire the champion and restore the one it replaced; returns the restored version."""
    current = champion(store)
    if current is None:
        raise ModelNotFoundError("rollback: there is no champion to roll back")
    prev = previous_champion(store)
    if prev is None:
        raise ModelNotFoundError(
            f"rollback: champion {current['version']} has no previous champion to restore; "
            "promote a version by hand with `nepse models promote VERSION`"
        )
    store.rollback_champion(current["version"], prev["version"])
    logger.info("rolled back champion %s -> %s", current["version"], prev["version"])
    return prev["version"]


def load_model(
    store: Store,
    version: str | None = None,
    *,
    models_dir: Path | None = None,
) -> TrainedModel:
    """Load a version (default: the champion); ModelNotFoundError if unknown, missing or corrupt."""
    if version is None:
        row = champion(store)
        if row is None:
            raise ModelNotFoundError(
                "no champion model in the registry; train one with `nepse train` (or promote "
                "a candidate with `nepse models promote VERSION`)"
            )
    else:
        row = get(store, version)
    folder = Path(models_dir) / row["version"] if models_dir else Path(row["path"])
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"model {row['version']}: folder {folder} is missing; restore it from backup, "
            "retrain (`nepse train`) or roll back (`nepse models rollback`)"
        )
    model = TrainedModel.load(folder)
    model.meta.setdefault("version", row["version"])
    return model


def _decide(
    rank_ic: float | None,
    current: dict[str, Any] | None,
    baselines: dict[str, float | None],
    settings: Settings,
    *,
    excess: dict[str, float | None] | None = None,
) -> tuple[bool, str]:
    """Apply the promotion rule; returns (promote?, reason).

    Rank IC is the walk-forward's on settings.label (tradeable by default). With `excess`
    (the backtest's net annual excess per model) the candidate must also beat every baseline's
    and the champion's (when it recorded one) net excess.
    """
    if rank_ic is None:
        return False, "walk-forward Rank IC undefined"
    fails = _excess_fails(excess, current) if excess else []
    for name, ric in sorted(baselines.items()):
        # An undefined baseline Rank IC (the zero predictor) cannot be beaten or lost to.
        if ric is not None and not rank_ic > ric + settings.promote_margin_baseline:
            fails.append(
                f"Rank IC {rank_ic:.4f} does not beat baseline {name} ({ric:.4f}) by more than "
                f"{settings.promote_margin_baseline}"
            )
    if current is not None:
        cur = current["rank_ic"]
        if cur is not None and not rank_ic > cur + settings.promote_margin_champion:
            fails.append(
                f"Rank IC {rank_ic:.4f} does not beat champion {current['version']} "
                f"({cur:.4f}) by more than {settings.promote_margin_champion}"
            )
    if fails:
        return False, "; ".join(fails)
    if current is None:
        return True, f"first champion: Rank IC {rank_ic:.4f} beats every baseline"
    return True, (
        f"Rank IC {rank_ic:.4f} beats champion {current['version']} ({current['rank_ic']}) "
        "and every baseline"
    )


def _excess_fails(excess: dict[str, float | None], current: dict[str, Any] | None) -> list[str]:
    mine = excess.get(MODEL)
    if mine is None:
        return ["backtest net excess undefined"]
    fails = [
        f"backtest net excess {mine:.4f} does not beat baseline {name} ({ex:.4f})"
        for name, ex in sorted(excess.items())
        if name != MODEL and ex is not None and not mine > ex
    ]
    champ = None
    if current is not None:
        m = current.get("metrics")
        m = json.loads(m) if isinstance(m, str) else (m or {})
        champ = m.get("backtest_net_excess")
    if champ is not None and not mine > champ:
        fails.append(f"backtest net excess {mine:.4f} does not beat champion's ({champ:.4f})")
    return fails


def register(
    store: Store,
    models_dir: Path,
    trained: TrainedModel,
    wf_result: WalkForwardResult,
    *,
    settings: Settings,
    force_promote: bool = False,
) -> RegistryDecision:
    """Save a trained model with its card and report, record it, promote it if it earns it."""
    summary = wf_result.summary_dict()
    metrics = summary.get(MODEL, {})
    baseline_metrics = {k: v for k, v in summary.items() if k != MODEL}
    rank_ic = metrics.get("rank_ic")
    baseline_ric = {k: v.get("rank_ic") for k, v in baseline_metrics.items()}
    created = datetime.now(UTC)
    version = new_version(trained.meta.get("data_fingerprint", ""), created)
    folder = Path(models_dir) / version
    trained.meta["version"] = version
    trained.meta["walk_forward"] = {"summary": summary, "info": wf_result.info}
    try:
        trained.save(folder)
        (folder / "card.md").write_text(model_card(trained.meta, wf_result), encoding="utf-8")
        write_evaluation_report(wf_result, folder / "evaluation.html", title=f"Model {version}")
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise

    excess = wf_result.info.get("backtest_net_excess")
    if excess:
        metrics["backtest_net_excess"] = excess.get(MODEL)
    meta = trained.meta
    row = {
        "version": version,
        "created_at": created.replace(tzinfo=None, microsecond=0),
        "status": "candidate",
        "train_start": meta.get("train_start"),
        "train_end": meta.get("train_end"),
        "as_of": meta.get("as_of"),
        "data_fingerprint": meta.get("data_fingerprint"),
        "feature_spec": meta.get("feature_spec"),
        "params": meta.get("params"),
        "library_versions": meta.get("library_versions"),
        "metrics": metrics,
        "baseline_metrics": baseline_metrics,
        "rank_ic": rank_ic,
        "path": str(folder),
        "reason": None,
    }
    # Decide and record in one transaction: a concurrent promotion cannot slip in between.
    with store.transaction():
        current = champion(store)
        ok, reason = _decide(rank_ic, current, baseline_ric, settings, excess=excess)
        if force_promote and not ok:
            reason = f"force-promoted despite: {reason}"
        promoted = ok or force_promote
        store.insert_model({**row, "reason": reason})
        if promoted:
            previous = current["version"] if current else None
            store.set_champion(version, previous=previous, reason=None)
    logger.info(
        "registered model %s: %s (%s)", version, "champion" if promoted else "candidate", reason
    )
    return RegistryDecision(
        version=version,
        status="champion" if promoted else "candidate",
        promoted=promoted,
        reason=reason,
        rank_ic=rank_ic,
        champion_version=current["version"] if current else None,
        champion_rank_ic=current["rank_ic"] if current else None,
        baseline_rank_ic=baseline_ric,
        path=folder,
    )
