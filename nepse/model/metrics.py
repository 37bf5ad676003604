"""Prediction metrics: one row of cross-sectional metrics per day, then Qlib-style aggregation.

Definitions (these are the ones the README and docs quote):

Per day `d`, over the rows of that day whose label is known (`y` not null); `n` of them also
have a prediction `p` (not null) and are the rows scored:

- `n_labelled`: rows with a label; `n`: rows with a label and a prediction.
- `ic`: Pearson correlation of `p` and `y` across symbols. Null ("undefined") when `n < 2` or
  either side has zero variance that day (e.g. a constant predictor).
- `rank_ic`: Spearman correlation = Pearson correlation of the average ranks of `p` and `y`
  (ties get their mean rank). Null under the same conditions as `ic`.
- `rmse`: sqrt(mean((p - y)^2)); `mae`: mean(|p - y|).
- `dir_acc`: share of rows with `p * y > 0` among the `n_dir` rows with `p != 0` and `y != 0`
  (a flat day or a "no view" prediction of exactly 0 is neither right nor wrong). Null when
  `n_dir == 0`, e.g. the zero predictor.
- `top_bottom`: mean `y` of the top decile minus mean `y` of the bottom decile by `p`. With
  `k = floor(n / 10)`, the top decile is the rows whose average rank of `p` is `> n - k`, the
  bottom decile the rows whose average rank is `<= k` (so ties at the edge go in or out
  together). Null when `k == 0` (fewer than 10 rows) or `p` is constant that day. It is a
  signal-quality spread, not a tradable strategy: NEPSE does not allow short selling.
- `top_bottom_net`: `top_bottom - 2 * cost_bps / 10_000`: both legs are assumed to be fully
  turned over every day and each pays one round trip of `cost_bps` (a conservative bound).

Aggregation over days (`summarize`), days with a null metric are skipped for that metric:

- `ic`, `rank_ic`: mean of the daily values; `icir`, `rank_icir`: mean / std (ddof=1).
- `rmse`: sqrt(sum(n * rmse_d^2) / sum(n)), i.e. pooled over all scored rows; `mae` likewise
  the row-weighted mean; `dir_acc`: sum(n_dir * dir_acc_d) / sum(n_dir).
- `top_bottom`, `top_bottom_net`: mean of the daily spreads; `top_bottom_t`: mean / std *
  sqrt(number of days with a spread), the t-statistic of the mean daily gross spread.
- `coverage`: sum(n) / sum(n_labelled): the share of labelled (date, symbol) rows that got a
  prediction. `n_days`: days with at least one scored row; `n_rows`: sum(n).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

DAILY_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "n_labelled": pl.Int64(),
    "n": pl.Int64(),
    "ic": pl.Float64(),
    "rank_ic": pl.Float64(),
    "rmse": pl.Float64(),
    "mae": pl.Float64(),
    "n_dir": pl.Int64(),
    "dir_acc": pl.Float64(),
    "top_bottom": pl.Float64(),
    "top_bottom_net": pl.Float64(),
}

SUMMARY_FIELDS: tuple[str, ...] = (
    "ic",
    "icir",
    "rank_ic",
    "rank_icir",
    "rmse",
    "mae",
    "dir_acc",
    "top_bottom",
    "top_bottom_net",
    "top_bottom_t",
    "coverage",
    "n_days",
    "n_rows",
)


def _nan_to_null(expr: pl.Expr) -> pl.Expr:
    """Correlations of constant columns come back NaN; the docs call them undefined (null)."""
    return pl.when(expr.is_nan()).then(None).otherwise(expr)


def daily_metrics(
    pred: pl.DataFrame,
    *,
    pred_col: str = "pred_ret",
    label_col: str = "y_ret",
    cost_bps: float,
) -> pl.DataFrame:
    """Per-date cross-sectional metrics of `pred_col` against `label_col` (see module docstring)."""
    missing = {"date", pred_col, label_col} - set(pred.columns)
    if missing:
        raise ValueError(
            f"daily_metrics: column(s) {sorted(missing)} missing from the prediction frame "
            f"(has {pred.columns}); pass pred_col=/label_col= to name them"
        )
    labelled = pred.lazy().filter(pl.col(label_col).is_not_null())
    counts = labelled.group_by("date").agg(pl.len().cast(pl.Int64).alias("n_labelled"))
    p, y = pl.col("p"), pl.col("y")
    scored = (
        labelled.filter(pl.col(pred_col).is_not_null())
        .select(
            "date",
            pl.col(pred_col).cast(pl.Float64).alias("p"),
            pl.col(label_col).cast(pl.Float64).alias("y"),
        )
        .with_columns(
            p.rank("average").over("date").alias("rank_p"),
            pl.len().over("date").alias("n_day"),
            (p.max().over("date") > p.min().over("date")).alias("p_varies"),
        )
        .with_columns((pl.col("n_day") // 10).alias("k"))
    )
    rank, k, n_day = pl.col("rank_p"), pl.col("k"), pl.col("n_day")
    top = (rank > n_day - k) & pl.col("p_varies")
    bottom = (rank <= k) & pl.col("p_varies")
    dir_rows = (p != 0) & (y != 0)
    agg = scored.group_by("date").agg(
        pl.len().cast(pl.Int64).alias("n"),
        _nan_to_null(pl.corr(p, y, method="pearson")).alias("ic"),
        _nan_to_null(pl.corr(p, y, method="spearman")).alias("rank_ic"),
        ((p - y) ** 2).mean().sqrt().alias("rmse"),
        (p - y).abs().mean().alias("mae"),
        dir_rows.sum().cast(pl.Int64).alias("n_dir"),
        ((p * y > 0) & dir_rows).sum().alias("n_right"),
        (y.filter(top).mean() - y.filter(bottom).mean()).alias("top_bottom"),
        pl.col("p_varies").first().alias("p_varies"),
        (y.max() > y.min()).alias("y_varies"),
    )
    out = (
        counts.join(agg, on="date", how="left")
        .with_columns(
            pl.col("n").fill_null(0),
            pl.col("n_dir").fill_null(0),
            pl.when(pl.col("n_dir") > 0).then(pl.col("n_right") / pl.col("n_dir")).alias("dir_acc"),
            (pl.col("top_bottom") - 2.0 * cost_bps / 10_000).alias("top_bottom_net"),
        )
        .sort("date")
        .collect()
    )
    # Correlations need two rows and variation on both sides; rounding can make polars return
    # a tiny number instead of NaN for a constant column, so test variation exactly.
    defined = (pl.col("n") >= 2) & pl.col("p_varies") & pl.col("y_varies")
    out = out.with_columns([pl.when(defined).then(pl.col(c)).alias(c) for c in ("ic", "rank_ic")])
    return out.select([pl.col(c).cast(t) for c, t in DAILY_SCHEMA.items()])


def _ratio(mean: float | None, std: float | None) -> float | None:
    if mean is None or std is None or std == 0 or math.isnan(std):
        return None
    return mean / std


def summarize(daily: pl.DataFrame) -> dict[str, Any]:
    """Aggregate `daily_metrics` output over days: means, IR ratios, pooled errors, coverage."""
    scored = daily.filter(pl.col("n") > 0)
    n_days = scored.height
    if n_days == 0:
        return dict.fromkeys(SUMMARY_FIELDS) | {
            "n_days": 0,
            "n_rows": 0,
            "coverage": 0.0 if daily.height else None,
        }
    s = scored.select(
        pl.col("ic").mean().alias("ic"),
        pl.col("ic").std().alias("ic_std"),
        pl.col("rank_ic").mean().alias("rank_ic"),
        pl.col("rank_ic").std().alias("rank_ic_std"),
        ((pl.col("n") * pl.col("rmse") ** 2).sum() / pl.col("n").sum()).sqrt().alias("rmse"),
        ((pl.col("n") * pl.col("mae")).sum() / pl.col("n").sum()).alias("mae"),
        pl.col("n_dir").sum().alias("n_dir"),
        (pl.col("n_dir") * pl.col("dir_acc").fill_null(0)).sum().alias("n_right"),
        pl.col("top_bottom").mean().alias("top_bottom"),
        pl.col("top_bottom").std().alias("top_bottom_std"),
        pl.col("top_bottom").count().alias("tb_days"),
        pl.col("top_bottom_net").mean().alias("top_bottom_net"),
        pl.col("n").sum().alias("n_rows"),
    ).row(0, named=True)
    n_labelled = int(daily["n_labelled"].sum())
    tb_ratio = _ratio(s["top_bottom"], s["top_bottom_std"])
    return {
        "ic": s["ic"],
        "icir": _ratio(s["ic"], s["ic_std"]),
        "rank_ic": s["rank_ic"],
        "rank_icir": _ratio(s["rank_ic"], s["rank_ic_std"]),
        "rmse": s["rmse"],
        "mae": s["mae"],
        "dir_acc": s["n_right"] / s["n_dir"] if s["n_dir"] else None,
        "top_bottom": s["top_bottom"],
        "top_bottom_net": s["top_bottom_net"],
        "top_bottom_t": tb_ratio * math.sqrt(s["tb_days"]) if tb_ratio is not None else None,
        "coverage": s["n_rows"] / n_labelled if n_labelled else None,
        "n_days": n_days,
        "n_rows": int(s["n_rows"]),
    }
