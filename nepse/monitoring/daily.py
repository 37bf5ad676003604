"""The daily run's domain logic: score with fallback, store predictions, evaluate realised returns.

Flows call these through thin tasks (flows/daily.py). Nothing here knows about Prefect.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from nepse.errors import ModelNotFoundError, NepseError
from nepse.model.metrics import daily_metrics

log = logging.getLogger(__name__)


ROLLING_DAYS = 20
NAIVE_VERSION = "naive-reversal-1d"


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
        return features.select(
            "symbol", "date", (-pl.col("f_ret_1").fill_null(0.0)).alias("pred_ret")
        )


@dataclass
class ScoreOutcome:
    """What scored the day: the predictions, the model that made them, and what failed first."""

    predictions: pl.DataFrame
    model_version: str
    model_role: str
    problems: list[str] = field(default_factory=list)

    @property
    def is_fallback(self) -> bool:
        """True when anything but the champion made the predictions."""
        return self.model_role != "champion"


def score_with_fallback(features: pl.DataFrame, candidates: list[Candidate]) -> ScoreOutcome:
    """Score with the first candidate that loads and predicts; the naive baseline comes last.

    A failure to load (missing or corrupt file) or to predict moves on to the next candidate;
    each failure is kept in `problems` so the flow can alert with the reasons.
    """
    problems: list[str] = []
    chain = [*candidates, Candidate(NAIVE_VERSION, "naive_baseline", NaiveReversal)]
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
        return ScoreOutcome(with_rank(preds), cand.version, cand.role, problems)
    raise NepseError("every scorer failed, even the naive baseline: " + "; ".join(problems))


def with_rank(preds: pl.DataFrame) -> pl.DataFrame:
    """Add `pred_rank`: the percentile of pred_ret among that date's predictions (1 = top)."""
    return preds.with_columns(
        pred_rank=(pl.col("pred_ret").rank("average") / pl.len()).over("date")
    )


def save_predictions(
    con: Any,
    outcome: ScoreOutcome,
    *,
    as_of: date,
    flow_run_id: str | None,
    parquet_dir: Path,
) -> Path:
    """Replace the day's predictions in DuckDB (idempotent) and write predictions/<date>.parquet."""
    now = datetime.now(UTC).replace(tzinfo=None)
    frame = outcome.predictions.select(
        pl.lit(as_of).alias("date"),
        "symbol",
        pl.lit(outcome.model_version).alias("model_version"),
        pl.lit(outcome.model_role).alias("model_role"),
        "pred_ret",
        "pred_rank",
        pl.lit(flow_run_id, pl.String).alias("flow_run_id"),
        pl.lit(now).alias("created_at"),
    ).sort("pred_rank", descending=True)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM predictions WHERE date = ?", [as_of])
        con.register("_preds", frame.to_arrow())
        con.execute("INSERT INTO predictions SELECT * FROM _preds")
        con.unregister("_preds")
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    parquet_dir.mkdir(parents=True, exist_ok=True)
    path = parquet_dir / f"{as_of.isoformat()}.parquet"
    tmp = path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp)
    tmp.replace(path)
    return path


def pending_evaluation(con: Any) -> list[date]:
    """Prediction dates not yet in performance_daily, oldest first."""
    rows = con.execute(
        "SELECT DISTINCT date FROM predictions WHERE date NOT IN "
        "(SELECT date FROM performance_daily) ORDER BY date"
    ).fetchall()
    return [r[0] for r in rows]


def evaluate_realised(
    con: Any, labels: pl.DataFrame, *, cost_bps: float, dates: list[date]
) -> pl.DataFrame:
    """Score earlier predictions against realised `y_ret` and store the daily + rolling metrics.

    `labels` holds (symbol, date, y_ret) for the prediction dates; a date is evaluated only
    once at least one of its labels is known. Returns the newly stored rows.
    """
    if not dates:
        return pl.DataFrame()
    preds = con.sql(
        "SELECT date, symbol, model_version, pred_ret FROM predictions "
        "WHERE list_contains(?::DATE[], date)",
        params=[dates],
    ).pl()
    joined = preds.join(labels.select("symbol", "date", "y_ret"), on=["symbol", "date"])
    known = joined.filter(pl.col("y_ret").is_not_null())
    if known.is_empty():
        return pl.DataFrame()
    daily = daily_metrics(known, cost_bps=cost_bps).filter(pl.col("n") > 0)
    versions = known.group_by("date").agg(pl.col("model_version").mode().first())
    daily = daily.join(versions, on="date")
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        for row in daily.sort("date").iter_rows(named=True):
            history = con.execute(
                "SELECT ic, rank_ic, rmse, n FROM performance_daily WHERE date < ? "
                "ORDER BY date DESC LIMIT ?",
                [row["date"], ROLLING_DAYS - 1],
            ).fetchall()
            window = [(row["ic"], row["rank_ic"], row["rmse"], row["n"]), *history]
            con.execute(
                "INSERT OR REPLACE INTO performance_daily VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    row["date"],
                    row["model_version"],
                    row["n"],
                    row["ic"],
                    row["rank_ic"],
                    row["rmse"],
                    row["mae"],
                    row["dir_acc"],
                    row["top_bottom"],
                    _mean(w[0] for w in window),
                    _mean(w[1] for w in window),
                    _pooled_rmse(window),
                    now,
                ],
            )
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return con.sql(
        "SELECT * FROM performance_daily WHERE list_contains(?::DATE[], date) ORDER BY date",
        params=[daily["date"].to_list()],
    ).pl()


def _mean(values: Any) -> float | None:
    xs = [v for v in values if v is not None and not math.isnan(v)]
    return sum(xs) / len(xs) if xs else None


def _pooled_rmse(window: list[tuple]) -> float | None:
    pairs = [(rmse, n) for _, _, rmse, n in window if rmse is not None and n]
    if not pairs:
        return None
    return math.sqrt(sum(n * r * r for r, n in pairs) / sum(n for _, n in pairs))


@dataclass(frozen=True)
class MonitorVerdict:
    """Performance alerts of the latest evaluated day (empty `alerts` = healthy)."""

    date: date | None
    rolling_rank_ic: float | None
    rolling_rmse: float | None
    training_rmse: float | None
    alerts: list[str]


def check_performance(
    latest: dict | None,
    *,
    min_rolling_rank_ic: float,
    rmse_ratio: float,
    training_rmse: float | None,
    min_days: int = ROLLING_DAYS,
    evaluated_days: int = 0,
) -> MonitorVerdict:
    """Alert rules: rolling Rank IC below the floor, or rolling RMSE > ratio x training RMSE.

    The Rank IC rule waits for `min_days` evaluated days (a 3-day mean is noise); the RMSE rule
    (the original design's 1.5x rule) applies from the first day.
    """
    if not latest:
        return MonitorVerdict(None, None, None, training_rmse, [])
    alerts = []
    ric, rmse = latest.get("rolling_rank_ic"), latest.get("rolling_rmse")
    if ric is not None and evaluated_days >= min_days and ric < min_rolling_rank_ic:
        alerts.append(
            f"20-day rolling Rank IC {ric:.4f} is below the floor {min_rolling_rank_ic:.4f}"
        )
    if rmse is not None and training_rmse and rmse > rmse_ratio * training_rmse:
        alerts.append(
            f"20-day rolling RMSE {rmse:.5f} exceeds {rmse_ratio:g} x the training RMSE "
            f"{training_rmse:.5f} (= {rmse_ratio * training_rmse:.5f})"
        )
    return MonitorVerdict(latest.get("date"), ric, rmse, training_rmse, alerts)
