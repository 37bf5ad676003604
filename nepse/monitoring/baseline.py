"""The drift baseline of a model, and today's window judged against it.

Reference = the last `reference_days` sessions of the model's training period; the calibration
windows are every `window`-session window of the `calibration_days` sessions before the
reference (not overlapping it), each compared with that reference exactly as today's window will
be. Each statistic is one `Statistic`: which distances it reads (the per-stock features made
market-neutral, `comparable`; the market itself, `market`; the model's predictions) and how it
reduces them to one number. The same object gives every calibration window's value
(`build_baseline`) and today's (`check`), so a statistic is written once.
Build it from the training panel right after training: `build_baseline(panel, ...).save(folder)`;
`load_or_none(folder)` reads it back; `check(baseline, window)` is the day's `DriftSummary`.
"""

from __future__ import annotations

import io
import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from nepse.errors import NotEnoughHistoryError
from nepse.model import files
from nepse.monitoring.calibrated import (
    Calibration,
    Reference,
    Sessions,
    calibration_of,
    column_scales,
    judge,
    window_statistic,
    worst_column,
)
from nepse.monitoring.comparable import PREDICTION, drift_columns, to_comparable
from nepse.monitoring.drift import PREDICTIONS, ColumnDrift, DriftSummary
from nepse.monitoring.files import write_parquet_atomic, write_text_atomic
from nepse.monitoring.market import MARKET_COLUMNS, market_sessions

BASELINE_FILE = "drift_baseline.json"
REFERENCE_FILE = "drift_reference.parquet"
MARKET_FILE = "drift_market.parquet"
BASELINE_FILES = (BASELINE_FILE, REFERENCE_FILE, MARKET_FILE)

FEATURES, WORST, MARKET = "feature drift", "worst feature", "market drift"
FEATURE_SOURCE, MARKET_SOURCE, PREDICTION_SOURCE = "features", "market", "prediction"

log = logging.getLogger(__name__)

Distances = Mapping[str, Mapping[str, float]]
"""A window's distances from the reference: {source: {column: distance}}."""


@dataclass(frozen=True)
class Statistic:
    """A drift statistic: the distances it reads (`source`) reduced to one number."""

    name: str
    source: str
    reduce: Callable[[Mapping[str, float], Mapping[str, float]], float]
    """(the source's distances, each feature's typical distance) -> the statistic."""

    def of(self, distances: Distances, scales: Mapping[str, float]) -> float:
        """The statistic of one window."""
        return self.reduce(distances[self.source], scales)


def _mean(distances: Mapping[str, float], scales: Mapping[str, float]) -> float:
    return window_statistic(distances)


def _prediction(distances: Mapping[str, float], scales: Mapping[str, float]) -> float:
    return distances.get(PREDICTION, math.nan)


STATISTICS = (
    Statistic(FEATURES, FEATURE_SOURCE, _mean),
    Statistic(WORST, FEATURE_SOURCE, worst_column),
    Statistic(MARKET, MARKET_SOURCE, _mean),
    Statistic(PREDICTIONS, PREDICTION_SOURCE, _prediction),
)
"""Every drift statistic, in the order the verdict lists them."""


@dataclass(frozen=True)
class DriftBaseline:
    """What today's window is compared with, and the calibrated alarm line of each statistic."""

    columns: dict[str, str]
    window: int
    reference: pl.DataFrame
    market: pl.DataFrame
    calibrations: dict[str, Calibration]
    scales: dict[str, float]
    reference_start: date
    reference_end: date

    def save(self, folder: Path) -> Path:
        """Write the two reference parquet files, then drift_baseline.json, into `folder`; each
        file atomically (a failed write leaves the previous one, and the JSON, which makes the
        baseline visible to `load_or_none`, is written last)."""
        folder.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(self.reference, folder / REFERENCE_FILE)
        write_parquet_atomic(self.market, folder / MARKET_FILE)
        meta = {
            "columns": self.columns,
            "window": self.window,
            "scales": self.scales,
            "reference_start": self.reference_start.isoformat(),
            "reference_end": self.reference_end.isoformat(),
            "calibrations": {k: c.to_dict() for k, c in self.calibrations.items()},
        }
        path = write_text_atomic(folder / BASELINE_FILE, json.dumps(meta, indent=1))
        # Every alarm line comes from these files: they are sealed with the model's.
        if (folder / files.MANIFEST_FILE).is_file():
            files.add_to_manifest(folder, list(BASELINE_FILES))
        else:
            files.seal(folder, list(BASELINE_FILES))
        return path

    @classmethod
    def load(cls, folder: Path) -> DriftBaseline:
        """Read a baseline written by `save`, each file checked against the model's manifest
        (ModelNotFoundError when one was edited or damaged: its alarm lines are not trusted)."""
        raw = {name: files.verified_bytes(folder, name) for name in BASELINE_FILES}
        meta = json.loads(raw[BASELINE_FILE].decode("utf-8"))
        return cls(
            columns=dict(meta["columns"]),
            window=int(meta["window"]),
            reference=pl.read_parquet(io.BytesIO(raw[REFERENCE_FILE])),
            market=pl.read_parquet(io.BytesIO(raw[MARKET_FILE])),
            calibrations={k: Calibration.from_dict(c) for k, c in meta["calibrations"].items()},
            scales={k: float(v) for k, v in meta["scales"].items()},
            reference_start=date.fromisoformat(meta["reference_start"]),
            reference_end=date.fromisoformat(meta["reference_end"]),
        )


def load_or_none(folder: Path) -> DriftBaseline | None:
    """The baseline saved in a model folder, or None when the model has none (older models).

    A baseline saved before baselines were sealed (not in the manifest) is None too, with a
    warning: the caller derives it again from stored prices and seals it. One that is in the
    manifest but differs from it raises ModelNotFoundError (edited or damaged)."""
    if not (folder / BASELINE_FILE).is_file():
        return None
    if not all(files.is_sealed(folder, name) for name in BASELINE_FILES):
        log.warning(
            "drift baseline in %s is not sealed (saved by older code): derived again", folder
        )
        return None
    return DriftBaseline.load(folder)


def per_statistic(quantile: float, n_statistics: int) -> float:
    """Each statistic's alarm quantile so that the family alarms at `quantile` (Bonferroni).

    `NEPSE_DRIFT_ALARM_QUANTILE` is the family's: with k statistics each alarms beyond its own
    1 - (1 - q) / k quantile, so on the calibration history the share of windows where any one
    alarms is at most 1 - q (0.5 % at the default 0.995), not k times that.
    """
    return 1.0 - (1.0 - quantile) / max(1, n_statistics)


def build_baseline(
    panel: pl.DataFrame,
    *,
    features: list[str],
    categorical: list[str],
    window: int = 5,
    reference_days: int = 120,
    calibration_days: int = 250,
    quantile: float = 0.995,
) -> DriftBaseline:
    """Reference and calibration from a training panel (features, optionally out-of-sample
    pred_ret: `nepse.monitoring.daily_drift.sessions_of`)."""
    columns = drift_columns(features, categorical)
    cols = list(columns)
    comp = to_comparable(panel, columns)
    with_predictions = PREDICTION in comp.columns
    sessions = Sessions(comp, [*cols, *([PREDICTION] if with_predictions else [])])
    n = len(sessions.days)
    ref_first = n - reference_days
    first_end = max(window - 1, ref_first - calibration_days)
    if ref_first - 1 < first_end + 20:
        raise NotEnoughHistoryError(
            f"drift baseline: {n} sessions are too few for a {reference_days}-session reference "
            f"plus 20 calibration windows of {window}; lower NEPSE_DRIFT_REFERENCE_DAYS"
        )
    ends = list(range(first_end, ref_first))
    end_days = [sessions.days[e] for e in ends]
    reference = comp.filter(pl.col("date") >= sessions.days[ref_first])
    market = market_sessions(panel)
    m_cols = [c for c in MARKET_COLUMNS if market.get_column(c).null_count() < market.height]
    market = market.select("date", *m_cols)
    m_reference = market.filter(pl.col("date") >= sessions.days[ref_first])
    m_sessions = Sessions(market, m_cols)
    m_index = {d: i for i, d in enumerate(m_sessions.days)}
    refs = _references(reference, cols, m_reference, m_cols, with_predictions=with_predictions)
    windows = [
        _distances(
            refs,
            features=sessions.window(e, window),
            market=m_sessions.window(m_index[d], window),
        )
        for e, d in zip(ends, end_days, strict=True)
    ]
    matrix = np.array([[w[FEATURE_SOURCE][c] for c in cols] for w in windows])
    scales = column_scales(matrix, cols)
    statistics = [s for s in STATISTICS if s.source in refs]
    kw = {"quantile": per_statistic(quantile, len(statistics)), "window": window}
    cals = {
        s.name: calibration_of(s.name, end_days, [s.of(w, scales) for w in windows], **kw)
        for s in statistics
    }
    return DriftBaseline(
        columns=columns,
        window=window,
        reference=reference,
        market=m_reference,
        calibrations=cals,
        scales=scales,
        reference_start=sessions.days[ref_first],
        reference_end=sessions.days[-1],
    )


def _references(
    reference: pl.DataFrame,
    cols: list[str],
    market: pl.DataFrame,
    m_cols: list[str],
    *,
    with_predictions: bool,
) -> dict[str, Reference]:
    """The reference of each source (the predictions' only when they are judged)."""
    refs = {
        FEATURE_SOURCE: Reference.of(reference, cols),
        MARKET_SOURCE: Reference.of(market, m_cols),
    }
    if with_predictions:
        refs[PREDICTION_SOURCE] = Reference.of(reference, [PREDICTION])
    return refs


def _distances(
    refs: Mapping[str, Reference],
    *,
    features: Mapping[str, np.ndarray],
    market: Mapping[str, np.ndarray],
) -> dict[str, dict[str, float]]:
    """A window's distances from the reference, by source (`features` holds the predictions
    too when they are judged)."""
    window = {FEATURE_SOURCE: features, MARKET_SOURCE: market, PREDICTION_SOURCE: features}
    return {source: ref.distances(window[source]) for source, ref in refs.items()}


def _predicted_on_every_session(current: pl.DataFrame) -> bool:
    """Has the window a prediction on each of its sessions, as every calibration window had?

    A window with predictions on fewer sessions is a smaller sample, whose distance from the
    reference is larger by chance alone: on the real data a new champion's first four days read
    0.60, 0.46, 0.32 and 0.18 against an alarm line of 0.18, then 0.05 with five of five
    (bench champion, 2026-03-29..04-02). So prediction drift waits until the window is full.
    """
    if PREDICTION not in current.columns:
        return False
    sessions = current.get_column("date").n_unique()
    predicted = current.filter(pl.col(PREDICTION).is_not_null()).get_column("date").n_unique()
    if predicted < sessions:
        log.info(
            "prediction drift not judged: predictions on %d of the window's %d sessions",
            predicted,
            sessions,
        )
    return predicted == sessions


def column_lines(baseline: DriftBaseline) -> dict[str, float]:
    """Each feature's own alarm line: the worst-feature line in units of its typical distance.

    The worst-feature statistic alarms when some feature's distance, divided by its typical
    distance, is beyond the statistic's line; so a feature is beyond its own line exactly when
    it makes that statistic alarm (features without a typical distance have no line)."""
    line = baseline.calibrations[WORST].threshold
    return {c: line * scale for c, scale in baseline.scales.items()}


def check(baseline: DriftBaseline, current: pl.DataFrame) -> DriftSummary:
    """Judge the window `current` (per-stock rows of the last N sessions, pred_ret optional)."""
    start = time.perf_counter()
    comp = to_comparable(current, baseline.columns)
    cols = list(baseline.columns)
    m_cols = [c for c in MARKET_COLUMNS if c in baseline.market.columns]  # what was calibrated
    market = market_sessions(current)
    judged = PREDICTIONS in baseline.calibrations and _predicted_on_every_session(current)
    refs = _references(baseline.reference, cols, baseline.market, m_cols, with_predictions=judged)
    tested = [*cols, *([PREDICTION] if judged else [])]
    dists = _distances(
        refs,
        features={c: comp.get_column(c).cast(pl.Float64).to_numpy() for c in tested},
        market={c: market.get_column(c).cast(pl.Float64).to_numpy() for c in m_cols},
    )
    alarms = tuple(
        judge(s.of(dists, baseline.scales), baseline.calibrations[s.name])
        for s in STATISTICS
        if s.name in baseline.calibrations and s.source in refs
    )
    lines = column_lines(baseline)
    summary = DriftSummary(
        start=current.get_column("date").min(),
        end=current.get_column("date").max(),
        alarms=alarms,
        columns=tuple(ColumnDrift(c, d, lines.get(c)) for c, d in dists[FEATURE_SOURCE].items()),
        market=dict(dists[MARKET_SOURCE]),
        seconds=time.perf_counter() - start,
    )
    log.info("%s (%.3f s)", summary.describe(), summary.seconds)
    return summary
