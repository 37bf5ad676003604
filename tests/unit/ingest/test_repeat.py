"""A day that repeats the session before it is quarantined, never stored as a session."""

from __future__ import annotations

import logging
from datetime import date, timedelta

import polars as pl
import pytest

from nepse.errors import DataQualityError
from nepse.ingest.repeat import REPEAT_MIN_SYMBOLS, repeated_days
from nepse.ingest.service import ingest_read
from nepse.schema import DAY_FAILED, ReadResult
from nepse.store import DayRecord, open_store

TODAY = date(2026, 4, 30)
SYMBOLS = [f"S{i:02d}" for i in range(12)]


def day_rows(day: date, symbols=SYMBOLS, *, copy_of: date | None = None) -> pl.DataFrame:
    """One session: every symbol's close, volume and turnover depend on the day (or copy it)."""
    seed = (copy_of or day).toordinal()
    return pl.DataFrame(
        {
            "symbol": symbols,
            "date": [day] * len(symbols),
            "close": [100.0 + (seed * 7 + i) % 13 for i in range(len(symbols))],
            "volume": [10.0 + (seed * 3 + i) % 17 for i in range(len(symbols))],
        }
    ).with_columns(turnover=pl.col("close") * pl.col("volume"))


def ingest(store, settings, *frames, day=None):
    read = ReadResult(fmt="t", prices=pl.concat(frames), sources=["input.csv"])
    return ingest_read(store, read, settings=settings, today=TODAY, day=day)


D1, D2, D3 = date(2026, 4, 6), date(2026, 4, 7), date(2026, 4, 8)


def test_todays_rows_equal_to_yesterdays_are_quarantined_and_the_run_fails(settings):
    with open_store(settings.database) as st:
        ingest(st, settings, day_rows(D1))
        with pytest.raises(DataQualityError, match=r"newest day read is a copy.*12 of 12 symbols"):
            ingest(st, settings, day_rows(D2, copy_of=D1))
        assert st.rows_on(D2) == 0 and st.rows_on(D1) == len(SYMBOLS)
        assert st.reject_reasons_on(D2) == {"repeated_day": len(SYMBOLS)}
        # again (a rerun): the same refusal, nothing stored, no reject twice
        with pytest.raises(DataQualityError):
            ingest(st, settings, day_rows(D2, copy_of=D1))
        assert st.reject_reasons_on(D2) == {"repeated_day": len(SYMBOLS)}
        ingest(st, settings, day_rows(D2))  # the day's own file arrives
        assert st.rows_on(D2) == len(SYMBOLS)


@pytest.mark.parametrize(("copied", "fires"), [(6, True), (5, False)])
def test_half_the_symbols_repeating_is_the_line(copied, fires):
    today = day_rows(D2)
    copy = day_rows(D2, copy_of=D1).head(copied)
    mixed = pl.concat([copy, today.tail(len(SYMBOLS) - copied)])
    found = repeated_days(mixed, pl.Series([D1]), day_rows(D1))
    assert found["date"].to_list() == ([D2] if fires else [])


def test_days_with_few_symbols_are_not_judged():
    few = SYMBOLS[: REPEAT_MIN_SYMBOLS - 1]
    found = repeated_days(day_rows(D2, few, copy_of=D1), pl.Series([D1]), day_rows(D1, few))
    assert found.is_empty()


def test_a_copy_inside_a_history_is_quarantined_with_a_warning_not_a_failure(settings, caplog):
    with open_store(settings.database) as st, caplog.at_level(logging.WARNING):
        report = ingest(st, settings, day_rows(D1), day_rows(D2, copy_of=D1), day_rows(D3))
        assert report.reasons == {"repeated_day": len(SYMBOLS)}
        assert [st.rows_on(d) for d in (D1, D2, D3)] == [len(SYMBOLS), 0, len(SYMBOLS)]
    assert f"{D2} repeats {D1}" in caplog.text


def test_a_copy_dated_on_a_saturday_is_the_copy():
    saturday, sunday = date(2016, 9, 3), date(2016, 9, 4)
    assert saturday.weekday() == 5
    friday_before = date(2016, 9, 1)
    frames = [day_rows(friday_before), day_rows(saturday, copy_of=sunday), day_rows(sunday)]
    found = repeated_days(pl.concat(frames), pl.Series([], dtype=pl.Date), frames[0].clear())
    assert found["date"].to_list() == [saturday]
    assert "is a Saturday" in found["detail"][0]


def test_an_api_day_that_repeats_is_recorded_failed_so_a_backfill_fetches_it_again(settings):
    with open_store(settings.database) as st:
        ingest(st, settings, day_rows(D1), day=DayRecord(D1))
        with pytest.raises(DataQualityError):
            ingest(st, settings, day_rows(D2, copy_of=D1), day=DayRecord(D2))
        assert st.day_record(D2, "api")[0] == DAY_FAILED
        assert D2 not in st.complete_days("api")


def test_consecutive_real_sessions_are_not_repeats(settings):
    days = [D1 + timedelta(days=i) for i in range(5)]
    with open_store(settings.database) as st:
        report = ingest(st, settings, *(day_rows(d) for d in days))
    assert report.rejected == 0
