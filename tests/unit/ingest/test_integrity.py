"""Corporate actions by identity, sample never meets real data, a run needs a source, the gate."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.errors import ConfigError, DataQualityError
from nepse.ingest.gate import check_day
from nepse.ingest.service import ingest_path, ingest_read, resolve_source
from nepse.schema import DATASET_MARKER, ReadResult
from nepse.store import open_store

TODAY = date(2026, 4, 30)
DIVIDEND = "fiscal_year,bonus_share,cash_dividend,total_dividend,book_closure_date"


def test_corrected_book_closure_date_revises_the_bonus_instead_of_adding_one(settings, tmp_path):
    folder = tmp_path / "ss" / "ADBL"
    folder.mkdir(parents=True)
    (folder / "dividend.csv").write_text(f"{DIVIDEND}\n2081/2082,10,0,10,2025-11-30 [Closed]\n")
    ingest_path(settings, tmp_path / "ss", today=TODAY)
    (folder / "dividend.csv").write_text(f"{DIVIDEND}\n2081/2082,10,0,10,2025-12-02 [Closed]\n")
    ingest_path(settings, tmp_path / "ss", today=TODAY)
    with open_store(settings.database, read_only=True) as st:
        actions = st.corporate_actions()
        revisions = st.corporate_action_revisions()
    assert actions.select("symbol", "kind", "book_closure_date").rows() == [
        ("ADBL", "bonus", date(2025, 12, 2))
    ]
    assert revisions["book_closure_date"].to_list() == [date(2025, 11, 30)]


def _canonical(folder, rows=(("ADBL", "2026-01-05", 301.0),)):
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["symbol,date,open,high,low,close,volume,turnover"]
    lines += [f"{s},{d},{c},{c},{c},{c},100,{c * 100}" for s, d, c in rows]
    (folder / "prices.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_sample_data_never_enters_a_database_of_real_data(settings, tmp_path):
    real = _canonical(tmp_path / "real")
    sample = _canonical(tmp_path / "sample", [("NABIL", "2026-01-05", 500.0)])
    (sample / DATASET_MARKER).write_text("sample\n")
    ingest_path(settings, real, today=TODAY)
    with open_store(settings.database) as st:
        before = st.prices()
    with pytest.raises(DataQualityError, match=r"holds real data.*sample"):
        ingest_path(settings, sample, today=TODAY)
    with open_store(settings.database, read_only=True) as st:
        assert st.prices().equals(before)
        assert st.dataset() == "real"


def test_real_data_never_enters_the_sample_database(settings, tmp_path):
    from nepse.devdata.sample import write_sample

    out = tmp_path / "market"
    write_sample(out, symbols=3, years=0.05, seed=1)
    ingest_path(settings, out, today=TODAY)
    with pytest.raises(DataQualityError, match="holds sample data"):
        ingest_path(settings, _canonical(tmp_path / "real"), today=TODAY)


def test_a_run_without_a_source_fails_saying_what_to_set(settings):
    with pytest.raises(ConfigError, match="NEPSE_SOURCE"):
        resolve_source(settings, None)
    with pytest.raises(ConfigError, match="NEPSE_SOURCE"):
        resolve_source(settings, "  ")
    assert resolve_source(settings, "sample") == "sample"
    assert resolve_source(settings.model_copy(update={"source": "api"}), "") == "api"


def _day_rows(day: date, symbols: list[str], raw: str = "") -> pl.DataFrame:
    # Volumes differ from day to day: identical sessions would be a repeated day.
    volume = 10.0 + day.toordinal() % 97
    return pl.DataFrame(
        {
            "symbol": symbols,
            "date": [day] * len(symbols),
            "open": [100.0] * len(symbols),
            "high": [100.0] * len(symbols),
            "low": [100.0] * len(symbols),
            "close": [100.0] * len(symbols),
            "volume": [volume] * len(symbols),
            "turnover": [100.0 * volume] * len(symbols),
        }
    )


def test_gate_judges_the_scored_day_not_the_whole_history(settings):
    symbols = [f"S{i:02d}" for i in range(20)]
    days = [date(2025, 6, 1) + timedelta(days=i) for i in range(200)]
    history = pl.concat([_day_rows(d, symbols) for d in days[:-1]])
    # the scored day: half its rows are broken (negative volume)
    last = _day_rows(days[-1], symbols).with_columns(
        volume=pl.when(pl.int_range(pl.len()) < 10).then(-1.0).otherwise(pl.col("volume"))
    )
    read = ReadResult(fmt="t", prices=pl.concat([history, last]))
    with open_store(settings.database) as st:
        report = ingest_read(st, read, settings=settings, today=TODAY)
        # over the whole input the share looks harmless ...
        assert report.rejected / report.rows_read < 0.01
        gate = check_day(st, days[-1], settings=settings)
        ok = check_day(st, days[-2], settings=settings)
    # ... but the scored day had half its rows rejected
    assert (gate.rows_on_day, gate.rejected_on_day) == (10, 10)
    assert gate.reject_share == 0.5 and not gate.passed
    assert "50.0%" in gate.reason
    assert ok.passed and ok.reject_share == 0.0


def test_gate_counts_active_equities_missing_against_previous_sessions(settings):
    symbols = [f"S{i:02d}" for i in range(10)]
    days = [date(2026, 1, 4) + timedelta(days=i) for i in range(7)]
    frames = [_day_rows(d, symbols) for d in days[:-1]] + [_day_rows(days[-1], symbols[:3])]
    with open_store(settings.database) as st:
        ingest_read(
            st, ReadResult(fmt="t", prices=pl.concat(frames)), settings=settings, today=TODAY
        )
        gate = check_day(st, days[-1], settings=settings)
        empty = check_day(st, days[-1] + timedelta(days=1), settings=settings)
    assert (gate.missing_active, gate.regular_active) == (7, 10)
    assert not gate.passed and "7 of 10" in gate.reason
    assert not empty.passed and "no prices" in empty.reason


def test_gate_judges_the_day_asked_for_when_its_rows_were_rejected(settings):
    from nepse.ingest.day import DayOutcome

    symbols = [f"S{i:02d}" for i in range(10)]
    days = [date(2026, 1, 4) + timedelta(days=i) for i in range(7)]
    good = pl.concat([_day_rows(d, symbols) for d in days[:-1]])
    bad = _day_rows(days[-1], symbols).with_columns(close=pl.lit(0.0))  # every row rejected
    with open_store(settings.database) as st:
        ingest_read(
            st, ReadResult(fmt="t", prices=pl.concat([good, bad])), settings=settings, today=TODAY
        )
        # the calendar falls back to the last good day, but the day asked for was rejected
        outcome = DayOutcome(status="ok", as_of=days[-2], asked=days[-1], source="f.csv")
        gate = check_day(st, outcome, settings=settings)
    assert gate.day == days[-1] and not gate.passed
    assert gate.reason.startswith("quality gate: no prices stored")
    assert "its 10 rows were rejected (nonpositive_price 10; see rejected_prices)" in gate.reason
