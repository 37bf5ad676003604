"""DuckDB store: migrations, locking, one-transaction ingestion, flags, readers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import nepse.store as store_mod
from nepse.errors import DatabaseLockedError, NepseError
from nepse.ingest.service import ingest_read
from nepse.market.rules import LIMIT_TOLERANCE
from nepse.schema import ReadResult
from nepse.store import STAGES, migrations, open_store
from tests.conftest import REPO

TODAY = date(2026, 4, 30)
TABLES = (
    "prices",
    "rejected_prices",
    "securities",
    "corporate_actions",
    "ingestion_runs",
    "price_observations",
    "price_conflicts",
    "store_meta",
    "corporate_action_revisions",
)


def prices(rows: list[tuple[str, date, float]], source: str = "f.csv") -> pl.DataFrame:
    """Price rows from (symbol, date, close); open/high/low around the close."""
    return pl.DataFrame(
        {
            "symbol": [r[0] for r in rows],
            "date": [r[1] for r in rows],
            "open": [float(r[2]) for r in rows],
            "high": [r[2] * 1.01 for r in rows],
            "low": [r[2] * 0.99 for r in rows],
            "close": [float(r[2]) for r in rows],
            "volume": [100.0] * len(rows),
            "source": [source] * len(rows),
            "line": list(range(2, len(rows) + 2)),
            "raw": [f"{r[0]},{r[1]},{r[2]}" for r in rows],
        }
    )


def series(symbol: str, closes: list[float], start: date = date(2026, 1, 1)) -> list:
    return [(symbol, start + timedelta(days=i), c) for i, c in enumerate(closes)]


def read_of(rows, **kw) -> ReadResult:
    return ReadResult(fmt="test", prices=prices(rows), sources=["f.csv"], **kw)


SAMPLE = read_of(
    series("NABIL", [100, 101, 102, 103])
    + series("HBL", [200, 201, 199])
    + [("HBL", date(2026, 1, 3), 199), ("ADBL", date(2026, 1, 1), 0.0)],
    rejects=pl.DataFrame(
        {"source": ["f.csv"], "line": [99], "raw": ["bad"], "reason": ["unparseable"]}
    ),
    securities=pl.DataFrame({"symbol": ["NABIL", "HBL"], "name": ["Nabil Bank", "Himalayan Bank"]}),
    corporate_actions=pl.DataFrame(
        {
            "symbol": ["NABIL", "NABIL"],
            "kind": ["bonus", "cash"],
            "percent": [10.0, 5.0],
            "book_closure_date": [date(2026, 1, 2), date(2026, 1, 2)],
            "fiscal_year": ["2081/2082", "2081/2082"],
        }
    ),
)


def snapshot(db: Path) -> dict[str, pl.DataFrame]:
    """Every table's full contents, in a stable order."""
    with open_store(db, read_only=True) as st:
        return {t: _all(st, t) for t in (*TABLES, "schema_migrations")}


def _all(st, table: str) -> pl.DataFrame:
    df = st._frame(f"SELECT * FROM {table}")
    return df.sort(df.columns, nulls_last=True)


def assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame], skip=()) -> None:
    for table in a:
        if table not in skip:
            assert_frame_equal(a[table], b[table])


@pytest.fixture
def db(settings) -> Path:
    return settings.database


def ingest(db: Path, read: ReadResult, settings, **kw):
    with open_store(db) as st:
        report = ingest_read(st, read, settings=settings, today=TODAY, **kw)
    report.check_identity()
    return report


# --- migrations ----------------------------------------------------------------------------
def test_open_creates_folders_and_applies_migrations_once(db):
    assert not db.parent.exists()
    with open_store(db) as st:
        first = st.applied_migrations()
        assert first["version"].to_list() == [v for v, _ in store_mod.MIGRATIONS]
    with open_store(db) as st:
        assert st.migrate() == []
        assert_frame_equal(st.applied_migrations(), first)
    with open_store(db, read_only=True) as st:
        assert st.schema_version() == store_mod.latest_version()


def test_appended_migration_is_applied_on_writable_open_only(db, monkeypatch):
    with open_store(db):
        pass
    extra = [*store_mod.MIGRATIONS, (store_mod.latest_version() + 1, "CREATE TABLE extra (x INT)")]
    monkeypatch.setattr(migrations, "MIGRATIONS", extra)
    with pytest.raises(NepseError, match="run any writing command"):
        open_store(db, read_only=True)
    with open_store(db) as st:
        assert st.applied_migrations().height == len(extra)
        assert st._exec("SELECT count(*) FROM extra") == [(0,)]
    with open_store(db, read_only=True) as st:
        assert st.schema_version() == extra[-1][0]


def test_a_legacy_version_number_is_mapped_only_where_it_is_legacy(db, monkeypatch):
    """Old databases recorded migration 5 as 10; a database past 10 records both as they are."""
    full = list(store_mod.MIGRATIONS)
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))  # a database of those days, migrations 1-5 applied
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"
    )
    for version, sql in full[:5]:
        con.execute(sql)
        # migration 5 recorded under its legacy number
        con.execute(
            "INSERT INTO schema_migrations VALUES (?, now())", [10 if version == 5 else version]
        )
    con.close()
    monkeypatch.setattr(migrations, "MIGRATIONS", full)
    with pytest.raises(NepseError, match="has schema version 5"):
        open_store(db, read_only=True)
    with open_store(db) as st:
        assert st.applied_migrations()["version"].to_list() == [v for v, _ in full]
    extra = [*full, *[(v, "SELECT 1") for v in range(len(full) + 1, 12)]]
    monkeypatch.setattr(migrations, "MIGRATIONS", extra)
    with open_store(db) as st:
        assert st.schema_version() == 11 and 10 in st.applied_migrations()["version"].to_list()
    with open_store(db, read_only=True) as st:
        assert st.schema_version() == 11


def test_read_only_open_of_unmigrated_or_missing_database(tmp_path):
    raw = tmp_path / "raw.duckdb"
    duckdb.connect(str(raw)).close()
    with pytest.raises(NepseError, match=r"schema version 0.*run any writing command"):
        open_store(raw, read_only=True)
    with pytest.raises(NepseError, match="does not exist"):
        open_store(tmp_path / "missing.duckdb", read_only=True)


def test_read_only_store_refuses_to_ingest(db, settings):
    ingest(db, SAMPLE, settings)
    with open_store(db, read_only=True) as st, pytest.raises(NepseError, match="read-only"):
        ingest_read(st, SAMPLE, settings=settings, today=TODAY)


# --- ingestion -----------------------------------------------------------------------------
def test_ingest_counts_and_contents(db, settings):
    report = ingest(db, SAMPLE, settings)
    assert (report.inserted, report.updated, report.unchanged) == (7, 0, 0)
    assert (report.rejected, report.duplicates, report.rows_read) == (2, 1, 10)
    assert report.reasons == {"nonpositive_price": 1, "unparseable": 1}
    assert (report.min_date, report.max_date, report.symbols) == (
        date(2026, 1, 1),
        date(2026, 1, 4),
        2,
    )
    with open_store(db, read_only=True) as st:
        stored = st.prices()
        assert stored.select("symbol", "date").rows() == sorted(
            (s, d) for s, d, _ in series("NABIL", [0] * 4) + series("HBL", [0] * 3)
        )
        assert set(stored["run_id"]) == {report.run_id}
        assert st.rejects(report.run_id)["reason"].sort().to_list() == [
            "nonpositive_price",
            "unparseable",
        ]
        assert st.securities()["name"].to_list() == ["Himalayan Bank", "Nabil Bank"]
        assert st.corporate_actions()["kind"].to_list() == ["bonus", "cash"]
        runs = st.runs()
        assert runs.select("run_id", "inserted", "rejected", "status").row(0) == (
            report.run_id,
            7,
            2,
            "ok",
        )
        assert st.trading_dates().to_list() == [date(2026, 1, d) for d in (1, 2, 3, 4)]
        only = st.prices(symbols=["HBL"], start=date(2026, 1, 2), end=date(2026, 1, 2))
        assert only.select("symbol", "date", "close").rows() == [("HBL", date(2026, 1, 2), 201.0)]
    md = report.to_markdown()
    assert "| inserted | 7 |" in md and "nonpositive_price" in md and "2026-01-01" in md


def test_reingest_same_input_changes_nothing(db, settings):
    ingest(db, SAMPLE, settings)
    before = snapshot(db)
    again = ingest(db, SAMPLE, settings)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 7)
    assert (again.rejected, again.duplicates) == (2, 1)
    after = snapshot(db)
    assert_same(before, after, skip=("ingestion_runs",))
    assert after["ingestion_runs"].height == 2


def test_changed_close_counts_as_update(db, settings):
    first = ingest(db, read_of(series("NABIL", [100, 101, 102])), settings)
    report = ingest(db, read_of(series("NABIL", [100, 101.5, 102]) + series("HBL", [5])), settings)
    assert (report.inserted, report.updated, report.unchanged) == (1, 1, 2)
    with open_store(db, read_only=True) as st:
        got = st.prices(symbols=["NABIL"]).select("close", "run_id").rows()
    assert got == [(100.0, first.run_id), (101.5, report.run_id), (102.0, first.run_id)]


def test_securities_and_corporate_actions_upsert(db, settings):
    ingest(db, SAMPLE, settings)
    more = ReadResult(
        fmt="master",
        securities=pl.DataFrame(
            {"symbol": ["NABIL", "NMB"], "sector": ["Banks", "Banks"], "instrument_type": "Equity"}
        ),
        corporate_actions=pl.DataFrame(
            {
                "symbol": ["NABIL", "NABIL", "NABIL", "NABIL", "X"],
                "kind": ["bonus", "bonus", "rights", "rights", "split"],
                "percent": [12.0, 12.0, 50.0, 50.0, 1.0],
                "book_closure_date": [date(2026, 1, 2), date(2026, 1, 2), None, None, None],
                "fiscal_year": ["2081/2082", "2081/2082", None, None, None],
            }
        ),
    )
    ingest(db, more, settings)
    before = snapshot(db)
    ingest(db, more, settings)  # rights with null key columns dedupe too
    assert_same(before, snapshot(db), skip=("ingestion_runs",))
    with open_store(db, read_only=True) as st:
        sec = st.securities().select("symbol", "name", "sector").rows()
        acts = st.corporate_actions().select("kind", "percent").rows()
    # a null field in the input keeps the stored name
    assert sec == [
        ("HBL", "Himalayan Bank", None),
        ("NABIL", "Nabil Bank", "Banks"),
        ("NMB", None, "Banks"),
    ]
    assert sorted(acts) == [("bonus", 12.0), ("cash", 5.0), ("rights", 50.0)]


def test_non_equity_skip_uses_master_from_store_and_input(db, settings):
    from nepse.settings import load_settings

    skip = load_settings(db_path=db, non_equity_policy="skip")
    master = ReadResult(
        fmt="master",
        securities=pl.DataFrame({"symbol": ["NMF1"], "instrument_type": ["Mutual Funds"]}),
    )
    ingest(db, master, skip)
    report = ingest(db, read_of(series("NMF1", [10]) + series("NEWCO", [10])), skip)
    assert report.reasons == {"not_equity": 1}
    assert report.inserted == 1


# --- beyond_limit ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("day", "close", "flag"),
    [
        (date(2026, 4, 19), 110.0, None),  # exactly +10%: a real limit-hit day
        (date(2026, 4, 19), 90.0, None),  # exactly -10%
        (date(2026, 4, 19), 110.01, "beyond_limit"),
        (date(2026, 4, 19), 89.99, "beyond_limit"),
        (date(2026, 4, 19), 112.0, "beyond_limit"),
        (date(2026, 4, 20), 112.0, None),  # the wider limit from 2026-04-20
        (date(2026, 4, 20), 115.0, None),  # exactly +15%
        (date(2026, 4, 20), 85.0, None),
        (date(2026, 4, 20), 115.02, "beyond_limit"),
        (date(2026, 4, 20), 84.9, "beyond_limit"),
    ],
)
def test_beyond_limit_flag(db, settings, day, close, flag):
    rows = [("NABIL", day - timedelta(days=3), 100.0), ("NABIL", day, close)]
    report = ingest(db, read_of(rows), settings)
    with open_store(db, read_only=True) as st:
        assert st.prices()["flag"].to_list() == [None, flag]
    assert report.flagged == ({flag: 1} if flag else {})


def test_float_noise_at_the_limit_is_not_beyond():
    assert 100 * 1.10 / 100 - 1 > 0.10  # the float trap the tolerance exists for
    assert LIMIT_TOLERANCE < 1e-4


def test_flags_recomputed_when_a_missing_day_arrives(db, settings):
    ingest(
        db,
        read_of([("NABIL", date(2026, 1, 1), 100.0), ("NABIL", date(2026, 1, 3), 118.0)]),
        settings,
    )
    with open_store(db, read_only=True) as st:
        assert st.prices()["flag"].to_list() == [None, "beyond_limit"]
    ingest(db, read_of([("NABIL", date(2026, 1, 2), 109.0)]), settings)
    with open_store(db, read_only=True) as st:
        assert st.prices()["flag"].to_list() == [None, None, None]


def test_repaired_row_beyond_limit_keeps_repair_recorded(db, settings):
    df = prices([("NABIL", date(2026, 1, 1), 100.0), ("NABIL", date(2026, 1, 2), 130.0)])
    big = pl.col("close") == 130
    df = df.with_columns(
        high=pl.when(big).then(125.0).otherwise(pl.col("high")),
        low=pl.when(big).then(120.0).otherwise(pl.col("low")),
    )
    ingest(db, ReadResult(fmt="t", prices=df), settings)
    with open_store(db, read_only=True) as st:
        got = st.prices().select("high", "flag", "repaired").rows()
    assert got[1] == (130.0, "beyond_limit", True)  # beyond_limit wins in flag
    # the same source corrects the previous close, which explains the move: the repair flag
    # comes back
    ingest(db, ReadResult(fmt="t", prices=prices([("NABIL", date(2026, 1, 1), 120.0)])), settings)
    with open_store(db, read_only=True) as st:
        assert st.prices().select("flag", "repaired").rows() == [
            (None, False),
            ("ohlc_repaired", True),
        ]


# --- failures ------------------------------------------------------------------------------------
class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("stage", STAGES)
def test_failing_ingest_leaves_database_unchanged(db, settings, stage):
    ingest(db, SAMPLE, settings)
    before = snapshot(db)

    def explode(name: str) -> None:
        if name == stage:
            raise Boom(name)

    change = read_of(series("NABIL", [100, 150, 102, 103, 104]) + series("NMB", [5, 6]))
    with open_store(db) as st, pytest.raises(Boom):
        ingest_read(st, change, settings=settings, today=TODAY, on_stage=explode)
    assert_same(before, snapshot(db))
    # the database is still usable, and the same input then goes through
    report = ingest(db, change, settings)
    assert (report.inserted, report.updated) == (3, 1)


CHILD = textwrap.dedent(
    """
    import sys, time
    from datetime import date, timedelta
    import numpy as np, polars as pl
    from nepse.schema import ReadResult
    from nepse.settings import load_settings
    from nepse.store import open_store
    from nepse.ingest.service import ingest_read

    db, stop_at, n_sym, n_days = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    rng = np.random.default_rng(1)
    n = n_sym * n_days
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_sym, n_days)), axis=1)).ravel()
    days = np.array([date(2020, 1, 1) + timedelta(days=i) for i in range(n_days)], "datetime64[D]")
    df = pl.DataFrame({
        "symbol": np.repeat([f"S{i:03d}" for i in range(n_sym)], n_days),
        "date": np.tile(days, n_sym),
        "open": close, "high": close * 1.01, "low": close * 0.99, "close": close,
        "source": "big.csv", "line": np.arange(2, n + 2),
    })
    read = ReadResult(fmt="big", prices=df, sources=["big.csv"])

    def on_stage(name):
        print(name, flush=True)
        if name == stop_at:
            time.sleep(120)

    settings = load_settings(db_path=db)
    with open_store(settings.database) as st:
        ingest_read(st, read, settings=settings, today=date(2026, 4, 30), on_stage=on_stage)
    print("finished", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("stop_at", ["merged", "run"])
def test_killed_ingest_leaves_database_unchanged(db, settings, tmp_path, stop_at):
    # The database already holds data, including a symbol the child's input overwrites.
    ingest(db, SAMPLE, settings)
    ingest(db, read_of(series("S000", [1.0, 2.0], start=date(2020, 1, 1))), settings)
    before = snapshot(db)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen(
        [sys.executable, str(script), str(db), stop_at, "200", "1000"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        seen = []
        for line in child.stdout:
            seen.append(line.strip())
            if line.strip() == stop_at:
                break
        assert seen[-1:] == [stop_at], (seen, child.stderr.read() if child.poll() else "")
        assert "validated" in seen
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert_same(before, snapshot(db))
    report = ingest(db, SAMPLE, settings)
    assert report.unchanged == 7


# --- locking ------------------------------------------------------------------------------
HOLDER = textwrap.dedent(
    """
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.readline()
    time.sleep(float(sys.argv[2]))
    con.close()
    print("released", flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def holder(db, tmp_path):
    """Start a second python process that holds the database open until told to release it."""
    with open_store(db):
        pass
    children = []

    def start(release_after: float = 0.0) -> subprocess.Popen:
        child = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db), str(release_after)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        assert child.stdout.readline().strip() == "holding"
        return child

    yield start
    for child in children:
        child.kill()
        child.wait()


@pytest.mark.slow  # a second process holds the database (tests/conftest.py)
@pytest.mark.parametrize("read_only", [False, True])
def test_lock_error_names_the_holding_pid(db, holder, read_only):
    child = holder()
    with pytest.raises(DatabaseLockedError) as info:
        open_store(db, read_only=read_only)
    assert info.value.pid == child.pid
    assert f"PID {child.pid}" in str(info.value)
    assert str(db) in str(info.value)
    assert "NEPSE_LOCK_TIMEOUT_S" in str(info.value)


@pytest.mark.slow  # a second process holds the database (tests/conftest.py)
def test_lock_timeout_waits_for_release(db, holder):
    child = holder(release_after=0.5)
    child.stdin.write("go\n")
    child.stdin.flush()
    with open_store(db, lock_timeout_s=20) as st:
        assert st.schema_version() == store_mod.latest_version()


@pytest.mark.slow  # a second process holds the database (tests/conftest.py)
def test_lock_timeout_gives_up(db, holder):
    child = holder()
    with pytest.raises(DatabaseLockedError, match=f"PID {child.pid}"):
        open_store(db, lock_timeout_s=0.5)


# --- real data --------------------------------------------------------------------------------
@pytest.mark.realdata
def test_real_files_ingest_idempotently_and_skip_debentures(tmp_path):
    from nepse.ingest.service import ingest_path
    from nepse.settings import load_settings
    from tests.conftest import shared_data

    company_list = shared_data("nepse-api-2025-08-30", "CompanyList.csv")
    nabil = shared_data("sharesansar-company-wise", "NABIL")
    debenture = shared_data("sharesansar-company-wise", "ADBLD83")
    settings = load_settings(db_path=tmp_path / "real.duckdb", non_equity_policy="skip")

    master = ingest_path(settings, company_list, today=TODAY)
    assert master.rows_read == 0
    deb = ingest_path(settings, debenture, today=TODAY)
    deb.check_identity()
    assert deb.inserted == 0 and deb.reasons.get("not_equity", 0) > 0

    first = ingest_path(settings, nabil, today=TODAY)
    first.check_identity()
    assert first.inserted > 3000
    before = snapshot(settings.database)
    second = ingest_path(settings, nabil, today=TODAY)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, first.inserted)
    assert_same(before, snapshot(settings.database), skip=("ingestion_runs",))
    with open_store(settings.database, read_only=True) as st:
        stored = st.prices()
        assert stored["symbol"].unique().to_list() == ["NABIL"]
        assert stored.select("symbol", "date").is_unique().all()
        assert st.securities().height == 598
        assert st.corporate_actions().height > 0
