"""The `ingested_days` table: per business day and source, what its last fetch found."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl

from nepse.schema import COMPLETE_DAY_STATUSES, DAY_HOLIDAY, DAY_OK, DAY_PENDING, DAY_STATUSES
from nepse.store.base import StoreBase, now_utc

log = logging.getLogger(__name__)

# An upsert may replace a status only with one of at least its rank: a complete day (ok, holiday)
# never goes back to incomplete, and an ok day (its rows are stored) never becomes a holiday.
_DAY_RANK = {s: 0 for s in DAY_STATUSES} | {DAY_OK: 2, DAY_HOLIDAY: 1}


@dataclass(frozen=True)
class DayRecord:
    """One business day's ingestion outcome, for the `ingested_days` table."""

    date: date
    source: str = "api"
    """'api' or the folder a recorded backfill read; (date, source) is the key."""
    status: str = "ok"
    pages: int | None = None
    raw_dir: str | None = None


class DaysMixin(StoreBase):
    """Per-day ingestion outcomes (backfill and live API)."""

    # --- ingested days ----------------------------------------------------------------------
    def record_day(
        self, day: DayRecord, *, run_id: str | None = None, rows_read: int | None = None
    ) -> str:
        """Upsert a day's status (never downgrading ok/holiday); return the status now stored."""
        self._require_writable("record a day")
        with self.transaction():
            return self._upsert_day(day, run_id=run_id, rows_read=rows_read, ts=now_utc())

    def _upsert_day(
        self, day: DayRecord, *, run_id: str | None, rows_read: int | None, ts: datetime
    ) -> str:
        if day.status not in _DAY_RANK:
            raise ValueError(f"day status {day.status!r} is not one of {', '.join(DAY_STATUSES)}")
        row = self._exec(
            "SELECT status FROM ingested_days WHERE date = ? AND source = ?",
            [day.date, day.source],
        )
        if row and row[0][0] == DAY_PENDING and day.status == DAY_PENDING:
            # Keep the first pending record: the holiday is confirmed against its time.
            return DAY_PENDING
        if row and _DAY_RANK[row[0][0]] > _DAY_RANK[day.status]:
            log.info(
                "%s (%s) stays %s; not replaced by %s", day.date, day.source, row[0][0], day.status
            )
            return row[0][0]
        self._exec(
            "INSERT OR REPLACE INTO ingested_days (date, source, status, run_id, rows_read, "
            "pages, raw_dir, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [day.date, day.source, day.status, run_id, rows_read, day.pages, day.raw_dir, ts],
        )
        return day.status

    def ingested_days(self, source: str | None = None) -> pl.DataFrame:
        """The `ingested_days` table (of one source, or all), by date and source."""
        sql, params = "SELECT * FROM ingested_days", []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        return self._frame(sql + " ORDER BY date, source", params)

    def complete_days(self, source: str) -> set[date]:
        """Days of `source` recorded ok or holiday: a resumed backfill skips them."""
        rows = self._exec(
            "SELECT date FROM ingested_days WHERE source = ? AND list_contains(?, status)",
            [source, sorted(COMPLETE_DAY_STATUSES)],
        )
        return {r[0] for r in rows}

    def day_record(self, day: date, source: str) -> tuple[str, datetime] | None:
        """(status, recorded_at UTC) of `day` for `source`, or None when never recorded."""
        rows = self._exec(
            "SELECT status, recorded_at FROM ingested_days WHERE date = ? AND source = ?",
            [day, source],
        )
        return (rows[0][0], rows[0][1]) if rows else None
