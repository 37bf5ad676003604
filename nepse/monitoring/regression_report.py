"""Evidently's regression-quality report of stored predictions against realised returns.

`nepse reports performance --from D --to D` writes it on request (Evidently's `RegressionPreset`
over the realised rows of the period; rows whose label is not known yet are left out).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from nepse.errors import DataQualityError, NepseError
from nepse.monitoring.files import write_text_atomic

if TYPE_CHECKING:  # pandas (~0.5 s) only where Evidently needs a frame of it
    import pandas as pd

log = logging.getLogger(__name__)


def performance_report(
    df: pl.DataFrame,
    *,
    target: str = "y_ret",
    prediction: str = "pred_ret",
    out_html: Path,
    reference: pl.DataFrame | None = None,
) -> Path:
    """Evidently regression-quality report of realised `target` vs `prediction` over a period."""
    from evidently import DataDefinition, Dataset, Regression, Report  # slow import
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
    out_html = write_text_atomic(Path(out_html), snapshot.get_html_str(as_iframe=False))
    log.info("performance report: %d realised rows -> %s", len(current_pd), out_html)
    return out_html
