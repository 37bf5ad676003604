"""Evidently drift and regression-quality reports, their summary as a value, and its table.

`run_drift` compares today's feature cross-section (current) with the model's training window
(reference), column by column, and the model's predictions today with its training-time
predictions. The result is a `DriftSummary` value; what to do with drift is the flow's decision.
Evidently reads pandas, so Polars frames are converted here, at the edge.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from nepse.errors import ConfigError, DataQualityError, NepseError

if TYPE_CHECKING:  # pandas (~0.5 s) only where Evidently needs a frame of it
    import pandas as pd

log = logging.getLogger(__name__)

# Evidently marks a column's test FAIL when drift is detected; its direction (p-value below the
# threshold, or distance above it) depends on the method, so the status is read, not re-derived.
_DRIFT_FAILED = "FAIL"

# Evidently's automatic choice for a reference of more than 1,000 rows is the normed Wasserstein
# distance (threshold 0.1). With a one-day cross-section of ~250 rows it flagged 28% of
# identical normal columns and 45% of identical t(3) ones (measured, 200 draws each); K-S at
# p < 0.05 flagged 2-6.5% and still caught a 0.3-sd shift 92-98% of the time. Chi-square
# (p < 0.05) flagged 5.5% of identical 13-category sector columns.
NUM_METHOD = "ks"
"""Default Evidently method for numerical columns (two-sample Kolmogorov-Smirnov p-value)."""
CAT_METHOD = "chisquare"
"""Default Evidently method for categorical columns (chi-square p-value)."""
MAX_REFERENCE_ROWS = 20_000
"""Reference rows kept (seeded sample): tests against a ~250-row day gain nothing from more."""

ALL_NULL = "all_null"
"""Method name recorded for a column with no finite value in the current or reference data."""


@dataclass(frozen=True)
class ColumnDrift:
    """Drift of one column: Evidently's method, its score and threshold, and the verdict."""

    column: str
    method: str
    score: float | None
    threshold: float | None
    drifted: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class DriftSummary:
    """What a drift run found: share of drifted feature columns, per-column results, prediction."""

    share_drifted: float
    n_drifted: int
    n_columns: int
    dataset_drift: bool
    columns: list[ColumnDrift]
    prediction_drift: ColumnDrift | None
    html_path: Path | None
    """The day's Evidently page; None when rendering it failed (the verdict stands)."""
    drift_share: float = 0.5
    seconds: float = field(default=0.0, compare=False)
    alarms: tuple = ()
    """Calibrated verdicts (nepse.monitoring.calibrated.Alarm): each statistic, its line, rank."""

    @property
    def drifted_columns(self) -> list[ColumnDrift]:
        """The feature columns found drifted."""
        return [c for c in self.columns if c.drifted]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (paths as strings, NaN scores as None)."""
        return {
            "share_drifted": self.share_drifted,
            "n_drifted": self.n_drifted,
            "n_columns": self.n_columns,
            "dataset_drift": self.dataset_drift,
            "drift_share": self.drift_share,
            "columns": [c.to_dict() for c in self.columns],
            "prediction_drift": (
                self.prediction_drift.to_dict() if self.prediction_drift is not None else None
            ),
            "html_path": None if self.html_path is None else str(self.html_path),
            "seconds": self.seconds,
            "alarms": [a.to_dict() for a in self.alarms],
        }


def _to_pandas(df: pl.DataFrame, numerical: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numerical columns as float64 (nulls -> NaN), categorical ones as plain strings."""
    return df.select(
        *[pl.col(c).cast(pl.Float64) for c in numerical],
        *[pl.col(c).cast(pl.String) for c in categorical],
    ).to_pandas()


def _usable(df: pl.DataFrame, column: str, numerical: bool) -> bool:
    """True when the column holds at least one value Evidently can use (finite, for numbers)."""
    col = df.get_column(column)
    if numerical:
        col = col.cast(pl.Float64)
        return bool(col.is_finite().fill_null(False).any())
    return col.null_count() < col.len()


def _check_inputs(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    columns: list[str],
) -> None:
    if current.height == 0:
        raise DataQualityError(
            "drift: the current data is empty (0 rows); score the day first or check the "
            "drift window (NEPSE_DRIFT_WINDOW_DAYS) and the scoring date"
        )
    if reference.height == 0:
        raise DataQualityError(
            "drift: the reference data is empty (0 rows); pass the model's training window"
        )
    if not columns:
        raise DataQualityError("drift: no feature columns given (features=[] and categorical=[])")
    for name, frame in (("current", current), ("reference", reference)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataQualityError(
                f"drift: the {name} data lacks column(s) {', '.join(missing)}; pass the same "
                f"feature list the model was trained with (or prediction=None when there are "
                f"no training-time predictions)"
            )


def _score(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _read_value_drifts(snapshot_dict: dict[str, Any]) -> dict[str, ColumnDrift]:
    """Per-column results of Evidently's ValueDrift metrics, with the verdict of their test."""
    status = {
        t["metric_config"]["metric_id"]: t["status"]
        for t in snapshot_dict.get("tests", [])
        if t.get("id") == "drift"
    }
    out: dict[str, ColumnDrift] = {}
    for metric in snapshot_dict["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith(":ValueDrift"):
            continue
        if metric["id"] not in status:
            raise NepseError(
                f"drift: Evidently returned no drift verdict for column {config['column']!r}; "
                f"the report must run with include_tests=True (evidently==0.7.23 expected)"
            )
        out[config["column"]] = ColumnDrift(
            column=config["column"],
            method=str(config.get("method")),
            score=_score(metric["value"]),
            threshold=_score(config.get("threshold")),
            drifted=status[metric["id"]] == _DRIFT_FAILED,
        )
    return out


def _null_verdict(
    column: str, reference: pl.DataFrame, current: pl.DataFrame, num: bool
) -> ColumnDrift:
    """An all-null column counts as drifted unless it was all-null on both sides."""
    # Evidently refuses an empty column; a feature that stopped (or started) arriving is a real
    # change in what the model sees, so it is reported, not dropped.
    both = not _usable(reference, column, num) and not _usable(current, column, num)
    return ColumnDrift(column=column, method=ALL_NULL, score=None, threshold=None, drifted=not both)


def run_drift(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    *,
    features: list[str],
    categorical: list[str] | None = None,
    prediction: str | None = "pred_ret",
    out_html: Path,
    drift_share: float = 0.5,
    num_method: str | None = NUM_METHOD,
    cat_method: str | None = CAT_METHOD,
    max_reference_rows: int | None = MAX_REFERENCE_ROWS,
    seed: int = 0,
) -> DriftSummary:
    """Evidently feature and prediction drift of `current` against `reference`; writes the HTML."""
    # Imported here: evidently takes seconds to import and pulls in a web stack that the CLI
    # and the other tasks never need.
    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    if not 0.0 < drift_share <= 1.0:
        raise ConfigError(
            f"drift: drift_share must be in (0, 1], got {drift_share}; pass a share such as 0.5"
        )
    # Categorical columns are features too, listed in `features` or not.
    categorical = list(dict.fromkeys(categorical or []))
    feature_cols = list(dict.fromkeys([*features, *categorical]))
    numerical = [c for c in feature_cols if c not in categorical]
    if prediction is not None and prediction in feature_cols:
        raise DataQualityError(
            f"drift: prediction column {prediction!r} is also listed as a feature"
        )
    checked = feature_cols + ([prediction] if prediction is not None else [])
    _check_inputs(reference, current, checked)

    start = time.perf_counter()
    if max_reference_rows is not None and reference.height > max_reference_rows:
        reference = reference.sample(max_reference_rows, seed=seed)
    usable = {
        c: _usable(reference, c, c in numerical) and _usable(current, c, c in numerical)
        for c in checked
    }
    num_ok = [c for c in numerical if usable[c]]
    cat_ok = [c for c in categorical if usable[c]]
    pred_ok = prediction is not None and usable[prediction]
    num_all = num_ok + ([prediction] if pred_ok else [])

    items: list[Any] = []
    if num_ok or cat_ok:
        items.append(
            DataDriftPreset(
                columns=num_ok + cat_ok,
                drift_share=drift_share,
                num_method=num_method,
                cat_method=cat_method,
            )
        )
    if pred_ok:
        items.append(ValueDrift(column=prediction, method=num_method))

    results: dict[str, ColumnDrift] = {}
    out_html = Path(out_html)
    if items:
        definition = DataDefinition(numerical_columns=num_all, categorical_columns=cat_ok)
        try:
            snapshot = Report(items, include_tests=True).run(
                current_data=Dataset.from_pandas(
                    _to_pandas(current, num_all, cat_ok), data_definition=definition
                ),
                reference_data=Dataset.from_pandas(
                    _to_pandas(reference, num_all, cat_ok), data_definition=definition
                ),
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise NepseError(
                f"drift: Evidently failed on {len(num_all) + len(cat_ok)} column(s) "
                f"(reference {reference.height} rows, current {current.height} rows): {exc}"
            ) from exc
        results = _read_value_drifts(snapshot.dict())
        out_html.parent.mkdir(parents=True, exist_ok=True)
        snapshot.save_html(str(out_html))
    else:
        # Nothing Evidently can compare: still leave a page behind so the index link works.
        out_html.parent.mkdir(parents=True, exist_ok=True)
        out_html.write_text(
            "<!doctype html><meta charset='utf-8'><title>Drift report</title>"
            "<p>Every column is all-null in the current or reference data; no drift test ran.</p>",
            encoding="utf-8",
        )

    columns = [
        results[c] if usable[c] else _null_verdict(c, reference, current, c in numerical)
        for c in feature_cols
    ]
    prediction_drift = None
    if prediction is not None:
        prediction_drift = (
            results[prediction]
            if pred_ok
            else _null_verdict(prediction, reference, current, num=True)
        )

    n_drifted = sum(c.drifted for c in columns)
    share = n_drifted / len(columns)
    summary = DriftSummary(
        share_drifted=share,
        n_drifted=n_drifted,
        n_columns=len(columns),
        # Evidently's own rule (DatasetDriftMetric): drifted when the share reaches the threshold.
        dataset_drift=share >= drift_share,
        columns=columns,
        prediction_drift=prediction_drift,
        html_path=out_html,
        drift_share=drift_share,
        seconds=time.perf_counter() - start,
    )
    log.info(
        "drift: %d/%d feature columns drifted (%.0f%%, dataset drift %s), prediction drift %s, "
        "%.1fs -> %s",
        n_drifted,
        len(columns),
        100 * share,
        summary.dataset_drift,
        None if prediction_drift is None else prediction_drift.drifted,
        summary.seconds,
        out_html,
    )
    return summary


def drift_features(names: list[str], meta: dict, limit: int) -> list[str]:
    """The model's features to check for drift: all, or the `limit` most important by gain."""
    if limit <= 0 or limit >= len(names):
        return list(names)
    gain = meta.get("importance_gain") or {}
    return sorted(names, key=lambda n: -gain.get(n, 0.0))[:limit]


def performance_report(
    df: pl.DataFrame,
    *,
    target: str = "y_ret",
    prediction: str = "pred_ret",
    out_html: Path,
    reference: pl.DataFrame | None = None,
) -> Path:
    """Evidently regression-quality report of realised `target` vs `prediction` over a period."""
    from evidently import DataDefinition, Dataset, Regression, Report  # slow import: see above
    from evidently.presets import RegressionPreset

    def realised(frame: pl.DataFrame, name: str) -> pd.DataFrame:
        missing = [c for c in (target, prediction) if c not in frame.columns]
        if missing:
            raise DataQualityError(
                f"performance report: the {name} data lacks column(s) {', '.join(missing)}"
            )
        # Labels of the last `horizon` days are not realised yet: those rows cannot be scored.
        out = frame.select(
            pl.col(target).cast(pl.Float64), pl.col(prediction).cast(pl.Float64)
        ).filter(pl.col(target).is_finite() & pl.col(prediction).is_finite())
        if out.height == 0:
            raise DataQualityError(
                f"performance report: the {name} data has no row with both {target} and "
                f"{prediction} realised; wait until the label horizon has passed"
            )
        return out.to_pandas()

    definition = DataDefinition(
        numerical_columns=[target, prediction],
        regression=[Regression(target=target, prediction=prediction)],
    )
    current_pd = realised(df, "current")
    reference_ds = None
    if reference is not None:
        reference_ds = Dataset.from_pandas(
            realised(reference, "reference"), data_definition=definition
        )
    try:
        snapshot = Report([RegressionPreset()]).run(
            current_data=Dataset.from_pandas(current_pd, data_definition=definition),
            reference_data=reference_ds,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise NepseError(
            f"performance report: Evidently failed on {len(current_pd)} rows: {exc}"
        ) from exc
    out_html = Path(out_html)
    out_html.parent.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out_html))
    log.info("performance report: %d realised rows -> %s", len(current_pd), out_html)
    return out_html
