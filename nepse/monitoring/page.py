"""Evidently's run of the day: the one place the daily run uses Evidently, through its public API.

`day_snapshot` builds one Evidently run that carries the calibrated verdict itself, so the page,
Evidently's Tests tab and the run in `evidently ui` say what the alarm says:

- each calibrated statistic as a one-value column (`MeanValue`) whose reference is the
  statistic's history over the calibration windows (Evidently draws today against it), tested
  `lte(alarm line)`: Evidently fails the test exactly when the statistic alarms;
- the `k` features nearest their own alarm lines (`DriftSummary.top_columns`) as `ValueDrift`
  with Evidently's normed Wasserstein (the distance the verdict computes; a test checks the two
  agree) and `threshold=` the feature's line: Evidently fails a feature exactly when the verdict
  counts it drifted;
- the prediction, when judged, as `ValueDrift` at the prediction statistic's line;
- the realised 20-day Rank IC, once known, as a value without a test (plotted by the dashboard).

The workspace keeps the same run without the features (`columns=0`: the verdict alone), so that
Evidently's `Workspace`, which parses every stored run when it opens, stays fast. The run's tags
say the verdict ("drift alarm" or "no drift alarm"), its metadata the trading
day, the model version and each statistic, and its name the day and model. The HTML page is
Evidently's own rendering of that run (`page_html`), with nothing spliced into it.
"""

from __future__ import annotations

import math
import warnings
from datetime import date
from typing import Any

import polars as pl

from nepse.calendar import market_close
from nepse.monitoring.baseline import DriftBaseline
from nepse.monitoring.calibrated import ordinal, reference_rows
from nepse.monitoring.comparable import PREDICTION, to_comparable
from nepse.monitoring.drift import METHOD, PREDICTIONS, DriftSummary

RANK_IC = "rolling Rank IC (20 days, out of sample)"
"""Column of the realised rolling Rank IC in the day's run."""
ALARM_TAG, OK_TAG = "drift alarm", "no drift alarm"
"""The verdict as the run's tag (shown in Evidently's run list)."""


def run_name(day: date, model_version: str) -> str:
    """The name of a day's run in the Evidently workspace."""
    return f"drift {day.isoformat()} {model_version}"


def day_snapshot(
    baseline: DriftBaseline,
    current: pl.DataFrame,
    summary: DriftSummary,
    *,
    day: date,
    model_version: str,
    columns: int = 8,
    rank_ic: float | None = None,
    rank_ic_history: list[float] | None = None,
):
    """Evidently's run of the day: the verdict's statistics and the `columns` features nearest
    their lines, with the predictions, of the window `current` against the baseline; and the
    realised rolling Rank IC against `rank_ic_history` (the walk-forward's rolling values).

    `columns=0` is the verdict alone, the workspace's run: each statistic, the predictions' as a
    value like the others, and the Rank IC. It is small (a few kB against ~650 kB with the
    features' distributions), which matters because Evidently's `Workspace` parses every stored
    run whenever it opens; the page keeps the distributions."""
    from evidently import DataDefinition, Dataset, Report  # slow import: only where it is used
    from evidently.metrics import MeanValue, ValueDrift
    from evidently.tests import lte

    pred = summary.prediction_drift
    draw_prediction = columns > 0 and pred is not None and PREDICTION in baseline.reference.columns
    stats = [
        a
        for a in summary.alarms
        if not math.isnan(a.value) and not (draw_prediction and a.name == PREDICTIONS)
    ]
    shown = summary.top_columns(columns) if columns > 0 else []
    tested = [c.column for c in shown] + ([PREDICTION] if draw_prediction else [])
    kinds = {c: baseline.columns[c] for c in tested if c != PREDICTION}
    comp = to_comparable(current, kinds).select(tested)
    ref = reference_rows(baseline.reference).select(tested)
    history = {a.name: list(baseline.calibrations[a.name].values) for a in stats}
    today = {a.name: [a.value] for a in stats}
    if rank_ic is not None and not math.isnan(rank_ic):
        today[RANK_IC], history[RANK_IC] = [rank_ic], list(rank_ic_history or [math.nan])
    cur, ref = _beside(today, comp), _beside(history, ref)

    items: list[Any] = [MeanValue(column=a.name, tests=[lte(a.threshold)]) for a in stats]
    if draw_prediction:
        items.append(ValueDrift(column=PREDICTION, method=METHOD, threshold=pred.threshold))
    items += [ValueDrift(column=c.column, method=METHOD, threshold=c.threshold) for c in shown]
    if RANK_IC in today:
        items.append(MeanValue(column=RANK_IC, tests=[]))
    definition = DataDefinition(numerical_columns=list(cur.columns))
    with warnings.catch_warnings():
        # A reference column without values (no walk-forward Rank IC saved) makes Evidently's
        # column summary divide 0 by 0; the value is not used.
        warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
        return Report(items, include_tests=True).run(
            current_data=Dataset.from_pandas(cur.to_pandas(), data_definition=definition),
            reference_data=Dataset.from_pandas(ref.to_pandas(), data_definition=definition),
            timestamp=market_close(day).replace(tzinfo=None),
            metadata=run_metadata(summary, day=day, model_version=model_version),
            tags=["drift", ALARM_TAG if summary.dataset_drift else OK_TAG],
            name=run_name(day, model_version),
        )


def _beside(values: dict[str, list[float]], frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with one more column per entry of `values`, the shorter ones padded with nulls
    (Evidently leaves them out, as the verdict does)."""
    columns = [pl.Series(k, v, dtype=pl.Float64).to_frame() for k, v in values.items()]
    return pl.concat([*columns, frame], how="horizontal_extend")


def run_metadata(summary: DriftSummary, *, day: date, model_version: str) -> dict[str, str]:
    """The run's metadata: the day, the model, the verdict and each statistic (as text)."""
    beyond = [a.name for a in summary.alarms if a.alarm]
    drifted = ", ".join(c.column for c in summary.top_columns(summary.n_drifted))
    out = {
        "day": day.isoformat(),
        "model_version": model_version,
        "window": f"{summary.start.isoformat()}..{summary.end.isoformat()}",
        "verdict": ("ALARM: " + ", ".join(beyond)) if beyond else OK_TAG,
        "features_beyond_their_line": f"{summary.n_drifted} of {summary.n_columns}"
        + (f": {drifted}" if drifted else ""),
    }
    for a in summary.alarms:
        out[a.name] = (
            f"{a.value:.4f} ({'ALARM' if a.alarm else 'ok'}; line {a.threshold:.4f}, "
            f"{ordinal(a.position)} percentile of {a.n_history} windows)"
        )
    return out


def page_html(snapshot: Any) -> str:
    """The run as Evidently's standalone HTML page."""
    return snapshot.get_html_str(as_iframe=False)
