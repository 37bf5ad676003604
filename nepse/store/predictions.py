"""Tables of the daily run: `predictions`, `performance_daily` and `drift_reports`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl

from nepse.store.base import StoreBase, now_utc

PREDICTION_COLUMNS = (
    "date",
    "symbol",
    "model_version",
    "model_role",
    "pred_ret",
    "pred_rank",
    "flow_run_id",
    "created_at",
)
PERFORMANCE_COLUMNS = (
    "date",
    "model_version",
    "n",
    "ic",
    "rank_ic",
    "rmse",
    "mae",
    "dir_acc",
    "top_bottom",
    "rolling_ic",
    "rolling_rank_ic",
    "rolling_rmse",
    "in_sample",
    "evaluated_at",
)


class PredictionsMixin(StoreBase):
    """Predictions per (date, symbol), realised daily metrics, drift summaries per day."""

    # --- predictions ------------------------------------------------------------------------
    def replace_predictions(self, day: date, frame: pl.DataFrame) -> None:
        """Replace every stored prediction of `day` with `frame`, atomically."""
        self._require_writable("store predictions")
        with self.transaction():
            self._exec("DELETE FROM predictions WHERE date = ?", [day])
            self._register("_preds", frame.select(PREDICTION_COLUMNS))
            try:
                self._exec(
                    f"INSERT INTO predictions SELECT {', '.join(PREDICTION_COLUMNS)} FROM _preds"
                )
            finally:
                self._unregister("_preds")

    def predictions(
        self,
        start: date | None = None,
        end: date | None = None,
        dates: Sequence[date] | None = None,
    ) -> pl.DataFrame:
        """Stored predictions of start..end (inclusive) or of some dates, by date and symbol."""
        return self._select("predictions", "date, symbol", start=start, end=end, date=dates)

    def count_predictions(self, day: date) -> int:
        """How many predictions are stored for `day`."""
        return self._exec("SELECT count(*) FROM predictions WHERE date = ?", [day])[0][0]

    def pending_evaluation(self, before: date | None = None) -> list[date]:
        """Prediction dates (before `before`) not yet in performance_daily, oldest first."""
        sql = (
            "SELECT DISTINCT date FROM predictions WHERE date NOT IN "
            "(SELECT date FROM performance_daily)"
        )
        params: list[Any] = []
        if before is not None:
            sql += " AND date < ?"
            params.append(before)
        return [r[0] for r in self._exec(sql + " ORDER BY date", params)]

    # --- realised performance ---------------------------------------------------------------
    def performance_before(self, day: date, limit: int) -> list[tuple]:
        """(ic, rank_ic, rmse, n) of the `limit` out-of-sample days before `day`, newest first."""
        return self._exec(
            "SELECT ic, rank_ic, rmse, n FROM performance_daily WHERE date < ? "
            "AND NOT coalesce(in_sample, false) ORDER BY date DESC LIMIT ?",
            [day, limit],
        )

    def upsert_performance(self, row: dict[str, Any]) -> None:
        """Insert or replace one performance_daily row (PERFORMANCE_COLUMNS but evaluated_at)."""
        values = [row.get(c) for c in PERFORMANCE_COLUMNS[:-1]] + [now_utc()]
        self._exec(
            f"INSERT OR REPLACE INTO performance_daily ({', '.join(PERFORMANCE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(PERFORMANCE_COLUMNS))})",
            values,
        )

    def performance(self, dates: Sequence[date] | None = None) -> pl.DataFrame:
        """performance_daily rows (of the given dates, or all), by date."""
        if dates is None:
            return self._frame("SELECT * FROM performance_daily ORDER BY date")
        return self._frame(
            "SELECT * FROM performance_daily WHERE list_contains(?::DATE[], date) ORDER BY date",
            [list(dates)],
        )

    def latest_performance(self) -> dict[str, Any] | None:
        """The newest out-of-sample performance_daily row, or None."""
        rows = self._frame(
            "SELECT * FROM performance_daily WHERE NOT coalesce(in_sample, false) "
            "ORDER BY date DESC LIMIT 1"
        ).to_dicts()
        return rows[0] if rows else None

    def count_performance(self) -> int:
        """How many out-of-sample days have been evaluated."""
        return self._exec(
            "SELECT count(*) FROM performance_daily WHERE NOT coalesce(in_sample, false)"
        )[0][0]

    # --- drift summaries --------------------------------------------------------------------
    def save_drift(self, day: date, model_version: str, summary: dict[str, Any]) -> None:
        """Insert or replace the drift_reports row of (day, model_version) from a summary dict."""
        drifted = [
            {"column": c["column"], "method": c["method"], "score": c["score"]}
            for c in summary["columns"]
            if c["drifted"]
        ]
        pred = summary.get("prediction_drift")
        self._exec(
            """
            INSERT OR REPLACE INTO drift_reports (date, model_version, share_drifted, dataset_drift,
                n_drifted, n_columns, drifted_columns, prediction_drift, html_path, alarms,
                created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp)
            """,
            [
                day,
                model_version,
                summary["share_drifted"],
                summary["dataset_drift"],
                summary["n_drifted"],
                summary["n_columns"],
                json.dumps(drifted),
                json.dumps(pred) if pred is not None else None,
                str(summary["html_path"]),
                json.dumps(summary.get("alarms") or []),
            ],
        )

    def drift_reports(self) -> pl.DataFrame:
        """Every drift_reports row, newest first."""
        return self._frame("SELECT * FROM drift_reports ORDER BY date DESC, model_version")

    def recent_dataset_drift(self, days: int) -> list[bool]:
        """The dataset-drift verdicts of the last `days` reports, newest first."""
        rows = self._exec(
            "SELECT dataset_drift FROM drift_reports ORDER BY date DESC LIMIT ?", [days]
        )
        return [bool(r[0]) for r in rows]

    def report_index_rows(self) -> pl.DataFrame:
        """Rows of the report index: drift per day and model, with the realised Rank IC."""
        return self._frame(
            "SELECT d.date, d.model_version, d.share_drifted, d.dataset_drift, d.n_drifted, "
            "d.n_columns, d.alarms, CASE WHEN p.in_sample THEN NULL ELSE p.rank_ic END AS rank_ic, "
            "coalesce(p.in_sample, false) AS in_sample FROM drift_reports d "
            "LEFT JOIN performance_daily p ON p.date = d.date ORDER BY d.date DESC"
        )
