"""Model registry: one DuckDB table plus a folder per version under `<data_dir>/models/`.

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

import duckdb

from nepse.errors import ModelNotFoundError
from nepse.model.card import model_card
from nepse.model.final import TrainedModel
from nepse.model.report import write_evaluation_report
from nepse.model.walkforward import MODEL, WalkForwardResult
from nepse.settings import Settings
from nepse.store.migrations import MODELS_DDL

logger = logging.getLogger(__name__)

DDL = MODELS_DDL  # the SQL lives in nepse/store/ddl.py (imported by the store)

COLUMNS = (
    "version",
    "created_at",
    "status",
    "train_start",
    "train_end",
    "as_of",
    "data_fingerprint",
    "feature_spec",
    "params",
    "library_versions",
    "metrics",
    "baseline_metrics",
    "rank_ic",
    "path",
    "reason",
    "promoted_at",
    "previous_champion",
)
JSON_COLUMNS = ("feature_spec", "params", "library_versions", "metrics", "baseline_metrics")


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


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def new_version(fingerprint: str, when: datetime | None = None) -> str:
    """A sortable version id: UTC timestamp + 6 hex chars of data fingerprint and clock."""
    when = when or datetime.now(UTC)
    salt = hashlib.sha256(f"{fingerprint}{when.isoformat()}".encode()).hexdigest()[:6]
    return f"{when:%Y%m%d-%H%M%S}-{salt}"


def _row(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> dict[str, Any] | None:
    # fetchall, not fetchone: DuckDB 2 blocks the next query while a result is half-fetched.
    rows = con.execute(f"SELECT {', '.join(COLUMNS)} FROM models {where}", params).fetchall()
    if not rows:
        return None
    got = rows[0]
    row = dict(zip(COLUMNS, got, strict=True))
    for c in JSON_COLUMNS:
        if isinstance(row[c], str):
            row[c] = json.loads(row[c])
    return row


def list_models(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every registered model, newest first (JSON columns decoded)."""
    versions = [
        r[0] for r in con.execute("SELECT version FROM models ORDER BY version DESC").fetchall()
    ]
    return [get(con, v) for v in versions]


def get(con: duckdb.DuckDBPyConnection, version: str) -> dict[str, Any]:
    """One model's registry row; ModelNotFoundError if the version is unknown."""
    row = _row(con, "WHERE version = ?", [version])
    if row is None:
        raise ModelNotFoundError(
            f"model version {version!r} is not in the registry; list versions with "
            "`nepse models list`"
        )
    return row


def champion(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The current champion's row, or None when no model has been promoted."""
    return _row(con, "WHERE status = 'champion' ORDER BY promoted_at DESC LIMIT 1", [])


def previous_champion(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The model the current champion replaced (what `rollback` restores), or None."""
    current = champion(con)
    if current is None or not current["previous_champion"]:
        return None
    return _row(con, "WHERE version = ?", [current["previous_champion"]])


def _set_champion(
    con: duckdb.DuckDBPyConnection, version: str, *, previous: str | None, reason: str | None
) -> None:
    """Retire any champion and crown `version`, in one transaction."""
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("UPDATE models SET status = 'retired' WHERE status = 'champion'")
        con.execute(
            "UPDATE models SET status = 'champion', promoted_at = ?, previous_champion = ?, "
            "reason = coalesce(?, reason) WHERE version = ?",
            [_now(), previous, reason, version],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def promote(con: duckdb.DuckDBPyConnection, version: str, *, reason: str | None = None) -> None:
    """Make `version` the champion (no metric check), retiring the current one."""
    get(con, version)
    current = champion(con)
    if current is not None and current["version"] == version:
        return
    _set_champion(
        con,
        version,
        previous=current["version"] if current else None,
        reason=reason or "promoted by hand",
    )
    logger.info("promoted model %s (was %s)", version, current["version"] if current else None)


def rollback(con: duckdb.DuckDBPyConnection) -> str:
    """Retire the champion and restore the one it replaced; returns the restored version."""
    current = champion(con)
    if current is None:
        raise ModelNotFoundError("rollback: there is no champion to roll back")
    prev = previous_champion(con)
    if prev is None:
        raise ModelNotFoundError(
            f"rollback: champion {current['version']} has no previous champion to restore; "
            "promote a version by hand with `nepse models promote VERSION`"
        )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "UPDATE models SET status = 'retired', reason = ? WHERE version = ?",
            [f"rolled back to {prev['version']}", current["version"]],
        )
        # The restored champion keeps its own previous_champion, so rollbacks can chain.
        con.execute(
            "UPDATE models SET status = 'champion', promoted_at = ? WHERE version = ?",
            [_now(), prev["version"]],
        )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    logger.info("rolled back champion %s -> %s", current["version"], prev["version"])
    return prev["version"]


def load_model(
    con: duckdb.DuckDBPyConnection,
    version: str | None = None,
    *,
    models_dir: Path | None = None,
) -> TrainedModel:
    """Load a version (default: the champion); ModelNotFoundError if unknown, missing or corrupt."""
    if version is None:
        row = champion(con)
        if row is None:
            raise ModelNotFoundError(
                "no champion model in the registry; train one with `nepse train` (or promote "
                "a candidate with `nepse models promote VERSION`)"
            )
    else:
        row = get(con, version)
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
    con: duckdb.DuckDBPyConnection,
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

    current = champion(con)
    excess = wf_result.info.get("backtest_net_excess")
    if excess:
        metrics["backtest_net_excess"] = excess.get(MODEL)
    ok, reason = _decide(rank_ic, current, baseline_ric, settings, excess=excess)
    if force_promote and not ok:
        reason = f"force-promoted despite: {reason}"
    promoted = ok or force_promote
    meta = trained.meta
    con.execute(
        f"INSERT INTO models ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [
            version,
            created.replace(tzinfo=None, microsecond=0),
            "candidate",
            meta.get("train_start"),
            meta.get("train_end"),
            meta.get("as_of"),
            meta.get("data_fingerprint"),
            json.dumps(meta.get("feature_spec")),
            json.dumps(meta.get("params")),
            json.dumps(meta.get("library_versions")),
            json.dumps(metrics),
            json.dumps(baseline_metrics),
            rank_ic,
            str(folder),
            reason,
            None,
            None,
        ],
    )
    if promoted:
        _set_champion(con, version, previous=current["version"] if current else None, reason=None)
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
