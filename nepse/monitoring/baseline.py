"""The drift baseline of a model: reference sessions and calibrated alarm lines, saved with it.

Reference = the last `reference_days` sessions of the model's training period; the calibration
windows are every `window`-session window of the `calibration_days` sessions before the
reference (not overlapping it), each compared with that reference exactly as today's window will
be. Three statistics are calibrated: per-stock features (market-neutral, `comparable`), the
market itself (`market`) and the model's predictions (their per-date shape).
Build it from the training panel (with in-sample `pred_ret`) right after training:
`build_baseline(panel, ...).save(model_folder)`; `load_or_none(model_folder)` reads it back.
"""

from __future__ import annotations

import io
import json
import logging
import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from nepse.errors import NotEnoughHistoryError
from nepse.model import files
from nepse.monitoring.calibrated import (
    Alarm,
    Calibration,
    Reference,
    Sessions,
    calibration_of,
    column_scales,
    distance_matrix,
    judge,
    window_statistic,
    worst_column,
)
from nepse.monitoring.comparable import PREDICTION, drift_columns, to_comparable
from nepse.monitoring.market import MARKET_COLUMNS, market_sessions

BASELINE_FILE = "drift_baseline.json"
REFERENCE_FILE = "drift_reference.parquet"
MARKET_FILE = "drift_market.parquet"
BASELINE_FILES = (BASELINE_FILE, REFERENCE_FILE, MARKET_FILE)

FEATURES, WORST, MARKET, PREDICTIONS = (
    "feature drift",
    "worst feature",
    "market drift",
    "prediction drift",
)

log = logging.getLogger(__name__)


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
        """Write drift_baseline.json and the two reference parquet files into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        self.reference.write_parquet(folder / REFERENCE_FILE)
        self.market.write_parquet(folder / MARKET_FILE)
        meta = {
            "columns": self.columns,
            "window": self.window,
            "scales": self.scales,
            "reference_start": self.reference_start.isoformat(),
            "reference_end": self.reference_end.isoformat(),
            "calibrations": {k: c.to_dict() for k, c in self.calibrations.items()},
        }
        path = folder / BASELINE_FILE
        path.write_text(json.dumps(meta, indent=1), encoding="utf-8")
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
    """Reference and calibration from a training panel (features, optionally in-sample pred_ret)."""
    columns = drift_columns(features, categorical)
    comp = to_comparable(panel, columns)
    sessions = Sessions(comp, list(columns))
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
    ref_frame = comp.filter(pl.col("date") >= sessions.days[ref_first])
    cols = list(columns)
    matrix = distance_matrix(sessions, Reference.of(ref_frame, cols), window=window, ends=ends)
    scales = column_scales(matrix, cols)
    with np.errstate(all="ignore"):
        means = np.nanmean(matrix, axis=1)
    worst = [worst_column(dict(zip(cols, row, strict=True)), scales) for row in matrix]
    calibrated = [FEATURES, WORST, MARKET, *([PREDICTIONS] if PREDICTION in comp.columns else [])]
    kw = {"quantile": per_statistic(quantile, len(calibrated)), "window": window}
    cals = {
        FEATURES: calibration_of(FEATURES, end_days, means.tolist(), **kw),
        WORST: calibration_of(WORST, end_days, worst, **kw),
    }
    if PREDICTION in comp.columns:
        pred = distance_matrix(
            Sessions(comp, [PREDICTION]),
            Reference.of(ref_frame, [PREDICTION]),
            window=window,
            ends=ends,
        )
        cals[PREDICTIONS] = calibration_of(PREDICTIONS, end_days, pred[:, 0].tolist(), **kw)
    market = market_sessions(panel)
    m_cols = [c for c in MARKET_COLUMNS if market.get_column(c).null_count() < market.height]
    market = market.select("date", *m_cols)
    m_ref = market.filter(pl.col("date") >= sessions.days[ref_first])
    m_sessions = Sessions(market, m_cols)
    m_ends = [m_sessions.days.index(d) for d in end_days]
    m_matrix = distance_matrix(m_sessions, Reference.of(m_ref, m_cols), window=window, ends=m_ends)
    with np.errstate(all="ignore"):
        m_means = np.nanmean(m_matrix, axis=1)
    cals[MARKET] = calibration_of(MARKET, end_days, m_means.tolist(), **kw)
    reference = comp.filter(pl.col("date") >= sessions.days[ref_first])
    return DriftBaseline(
        columns=columns,
        window=window,
        reference=reference,
        market=m_ref,
        calibrations=cals,
        scales=scales,
        reference_start=sessions.days[ref_first],
        reference_end=sessions.days[-1],
    )


@dataclass(frozen=True)
class DriftVerdict:
    """Today's calibrated drift: one alarm per statistic, and the per-column distances."""

    start: date
    end: date
    alarms: tuple[Alarm, ...]
    distances: dict[str, float]
    market_distances: dict[str, float]

    @property
    def alarmed(self) -> bool:
        """True when any statistic is beyond its alarm line."""
        return any(a.alarm for a in self.alarms)

    def alarm(self, name: str) -> Alarm | None:
        """The verdict of one statistic (None when it was not computed)."""
        return next((a for a in self.alarms if a.name == name), None)

    def top_columns(self, k: int) -> list[str]:
        """The `k` feature columns farthest from the reference."""
        ranked = [c for c, d in self.distances.items() if not math.isnan(d)]
        return sorted(ranked, key=lambda c: -self.distances[c])[:k]


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


def check(baseline: DriftBaseline, current: pl.DataFrame) -> DriftVerdict:
    """Judge the window `current` (per-stock rows of the last N sessions, pred_ret optional)."""
    comp = to_comparable(current, baseline.columns)
    cols = list(baseline.columns)
    dists = Reference.of(baseline.reference, cols).distances(
        {c: comp.get_column(c).to_numpy() for c in cols}
    )
    values = {FEATURES: window_statistic(dists), WORST: worst_column(dists, baseline.scales)}
    if PREDICTIONS in baseline.calibrations and _predicted_on_every_session(current):
        ref = Reference.of(baseline.reference, [PREDICTION])
        values[PREDICTIONS] = ref.distances({PREDICTION: comp.get_column(PREDICTION).to_numpy()})[
            PREDICTION
        ]
    market = market_sessions(current)
    m_cols = [c for c in MARKET_COLUMNS if c in baseline.market.columns]  # what was calibrated
    m_dists = Reference.of(baseline.market, m_cols).distances(
        {c: market.get_column(c).to_numpy() for c in m_cols}
    )
    values[MARKET] = window_statistic(m_dists)
    alarms = tuple(judge(v, baseline.calibrations[k]) for k, v in values.items())
    return DriftVerdict(
        start=current.get_column("date").min(),
        end=current.get_column("date").max(),
        alarms=alarms,
        distances=dists,
        market_distances=m_dists,
    )
