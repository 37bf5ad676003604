"""Scoring a day: the champion, else a fallback chain, and the frame of predictions to store.

A failure to load (missing or corrupt file) or to predict moves on to the next candidate; each
failure is kept in `problems` so the flow can alert with the reasons. The naive one-day reversal
comes last, so a day is always scored and every prediction records the model that made it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import polars as pl

from nepse.errors import ModelNotFoundError, NepseError
from nepse.schema import KEYS

log = logging.getLogger(__name__)

NAIVE_VERSION = "naive-reversal-1d"
CHAMPION = "champion"
PREVIOUS_CHAMPION = "previous_champion"
NAIVE_BASELINE = "naive_baseline"


class Scorer(Protocol):
    """Anything that turns a feature frame into (symbol, date, pred_ret)."""

    def predict(self, features: pl.DataFrame) -> pl.DataFrame: ...


@dataclass(frozen=True)
class Candidate:
    """One model the fallback chain may use: its version, role and how to load it."""

    version: str
    role: str
    load: Callable[[], Scorer]


class NaiveReversal:
    """Last-resort scorer: tomorrow's return is minus today's (one-day reversal)."""

    def predict(self, features: pl.DataFrame) -> pl.DataFrame:
        return features.select(*KEYS, (-pl.col("f_ret_1").fill_null(0.0)).alias("pred_ret"))


@dataclass(frozen=True)
class ScoreOutcome:
    """What scored the day: the predictions, the model that made them, and what failed first."""

    predictions: pl.DataFrame
    model_version: str
    model_role: str
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_fallback(self) -> bool:
        """True when anything but the champion made the predictions."""
        return self.model_role != CHAMPION


def score_with_fallback(features: pl.DataFrame, candidates: list[Candidate]) -> ScoreOutcome:
    """Score with the first candidate that loads and predicts; the naive baseline comes last."""
    problems: list[str] = []
    chain = [*candidates, Candidate(NAIVE_VERSION, NAIVE_BASELINE, NaiveReversal)]
    for cand in chain:
        try:
            preds = cand.load().predict(features)
            if preds.height != features.height or preds["pred_ret"].is_nan().any():
                raise NepseError(
                    f"returned {preds.height} predictions for {features.height} rows "
                    "(or NaN predictions)"
                )
        except (ModelNotFoundError, NepseError, ValueError, OSError) as exc:
            problems.append(f"{cand.role} {cand.version}: {type(exc).__name__}: {exc}")
            log.warning("scoring with %s %s failed: %s", cand.role, cand.version, exc)
            continue
        return ScoreOutcome(with_rank(preds), cand.version, cand.role, tuple(problems))
    raise NepseError("every scorer failed, even the naive baseline: " + "; ".join(problems))


def with_rank(preds: pl.DataFrame) -> pl.DataFrame:
    """Add `pred_rank`: the percentile of pred_ret among that date's predictions (1 = top)."""
    return preds.with_columns(
        pred_rank=(pl.col("pred_ret").rank("average") / pl.len()).over("date")
    )


def prediction_rows(outcome: ScoreOutcome, *, as_of: date, flow_run_id: str | None) -> pl.DataFrame:
    """The rows of the `predictions` table for one scored day, best first."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return outcome.predictions.select(
        pl.lit(as_of).alias("date"),
        "symbol",
        pl.lit(outcome.model_version).alias("model_version"),
        pl.lit(outcome.model_role).alias("model_role"),
        "pred_ret",
        "pred_rank",
        pl.lit(flow_run_id, pl.String).alias("flow_run_id"),
        pl.lit(now).alias("created_at"),
    ).sort("pred_rank", descending=True)


def model_reference(folder: Path) -> tuple[dict, pl.DataFrame]:
    """A saved model's metadata and drift reference sample, without loading the booster."""
    from nepse.model.files import verify
    from nepse.model.final import META_FILE, REFERENCE_FILE

    folder = Path(folder)
    meta_path, ref_path = folder / META_FILE, folder / REFERENCE_FILE
    if not meta_path.is_file():
        raise ModelNotFoundError(f"model folder {folder} has no {META_FILE}")
    verify(folder, [META_FILE, REFERENCE_FILE])  # checksums written at save time
    meta = json.loads(meta_path.read_text())
    reference = pl.read_parquet(ref_path) if ref_path.is_file() else pl.DataFrame()
    return meta, reference


@dataclass(frozen=True)
class Pick:
    """One row of the top or bottom of a scored day."""

    symbol: str
    pred_ret: float
    pred_rank: float


@dataclass(frozen=True)
class ScoredDay:
    """A scored day, small enough to pass between tasks: who scored it and where it is saved."""

    as_of: date
    model_version: str
    model_role: str
    problems: tuple[str, ...]
    n: int
    predictions_path: Path
    """data/predictions/<date>.parquet: the stored predictions of the day."""
    features_path: Path
    """data/work/scoring/<date>-<model version>.parquet: the last N sessions' features with the
    predictions published on each (the drift step's current window, from the day's one build)."""
    labels_path: Path
    """data/work/labels/<date>.parquet: realised labels of earlier days (evaluation reads it)."""
    top: tuple[Pick, ...]
    bottom: tuple[Pick, ...]
    walk_forward_rmse: float | None = None
    """The scoring model's walk-forward RMSE (the realised-RMSE alert compares with it)."""

    @property
    def is_fallback(self) -> bool:
        """True when anything but the champion made the predictions."""
        return self.model_role != CHAMPION


def picks(predictions: pl.DataFrame, n: int) -> tuple[tuple[Pick, ...], tuple[Pick, ...]]:
    """The `n` highest and `n` lowest predictions (best first, worst first)."""
    ranked = predictions.sort("pred_ret", descending=True).select("symbol", "pred_ret", "pred_rank")
    top = tuple(Pick(**r) for r in ranked.head(n).iter_rows(named=True))
    bottom = tuple(Pick(**r) for r in ranked.tail(n).reverse().iter_rows(named=True))
    return top, bottom
