"""Hostile situations that are not one file to ingest: a lying clock, a full or damaged
database, nonsense settings, ... (issue 25). Each scenario builds its situation under a folder
of its own, meets it with the service's real code, and reports what the service did and every
wrong value it stored; an exception that is not a NepseError is a crash (a raw traceback for a
user). The services' scenarios (a crashing model file, a trickling server, the report servers,
an edited drift baseline) are in nepse/devdata/hostile_services.py, whose `SCENARIOS` holds both.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from nepse.errors import ConfigError, DatabaseError, NepseError

PRICES = "symbol,date,open,high,low,close,volume,turnover\n"


@dataclass(frozen=True)
class Seen:
    """What the service did (`outcome`, in words) and the wrong values it left behind."""

    outcome: str
    wrong: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """One hostile situation, how to stage and meet it, and the words its outcome must hold."""

    name: str
    category: str
    expect: str
    run: Callable[[Path], Seen]
    slow: bool = False
    """Takes more than a few seconds (the unit test leaves it to its own slow test)."""


@dataclass(frozen=True)
class ScenarioResult:
    """A scenario's outcome, wrong values, crash and skip (a precondition missing here)."""

    scenario: Scenario
    outcome: str
    wrong: tuple[str, ...] = ()
    crashed: bool = False
    skipped: str = ""

    @property
    def ok(self) -> bool:
        """Skipped, or the expected outcome with nothing wrong stored and no crash."""
        if self.skipped:
            return True
        return not self.crashed and not self.wrong and self.scenario.expect in self.outcome


class Skip(Exception):
    """A scenario's precondition is missing on this machine (e.g. root to mount a disk)."""


def run_scenario(scenario: Scenario, root: Path) -> ScenarioResult:
    """Stage and meet `scenario` under `root`; never raises."""
    root.mkdir(parents=True, exist_ok=True)
    try:
        seen = scenario.run(root)
    except Skip as exc:
        return ScenarioResult(scenario, "", skipped=str(exc))
    except NepseError as exc:  # an error in words, but not the one the scenario checks for
        return ScenarioResult(scenario, f"unexpected {type(exc).__name__}: {exc}")
    except Exception as exc:
        return ScenarioResult(scenario, f"crash: {type(exc).__name__}: {exc}", crashed=True)
    return ScenarioResult(scenario, seen.outcome, wrong=seen.wrong)


def refused(call: Callable[[], object], kind: type[NepseError]) -> str:
    """The message of the `kind` error `call()` raises ('' when it raises none)."""
    try:
        call()
    except kind as exc:
        return f"{type(exc).__name__}: {exc}"
    return ""


def settings_at(root: Path, **overrides: object):
    """Settings with data and database under `root` (environment overrides still apply)."""
    from nepse.settings import load_settings

    return load_settings(**{"data_dir": root, "db_path": root / "nepse.duckdb", **overrides})


def day_file(root: Path, day: date, name: str = "day.csv") -> Path:
    """A canonical file of 12 symbols on `day`, values varying with the day."""
    k = day.toordinal()
    lines = [
        f"S{i:02d},{day},{100 + (k + i) % 9},{101 + (k + i) % 9},{99 + (k + i) % 9},"
        f"{100 + (k + i) % 9},{10 + (k * 3 + i) % 17},{(100 + (k + i) % 9) * 11}"
        for i in range(12)
    ]
    path = root / name
    path.write_text(PRICES + "\n".join(lines) + "\n")
    return path


def stored_rows(settings) -> int:
    """Price rows in the scenario's database (0 when there is none)."""
    from nepse.store import open_store

    if not settings.database.exists():
        return 0
    with open_store(settings.database, read_only=True) as store:
        return store.prices().height


# --- a lying clock ---------------------------------------------------------------------------
def clock_behind(root: Path) -> Seen:
    """The database holds 2026-04-02; the clock says a year earlier; today's file comes in."""
    from nepse.ingest.service import ingest_path

    s = settings_at(root)
    ingest_path(s, day_file(root, date(2026, 4, 2)), today=date(2026, 4, 2))
    message = refused(
        lambda: ingest_path(s, day_file(root, date(2026, 4, 3)), today=date(2025, 4, 2)),
        ConfigError,
    )
    wrong = () if stored_rows(s) == 12 else (f"{stored_rows(s)} rows stored, want 12",)
    return Seen(message or "ingested with a clock a year behind", wrong)


# --- database files ---------------------------------------------------------------------------
@contextlib.contextmanager
def small_disk(root: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted under `root` (Skip unless root may mount here)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        raise Skip("needs root to mount a small tmpfs")
    where = root / "disk"
    where.mkdir(exist_ok=True)
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)]
    ).returncode:
        raise Skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def full_disk(root: Path) -> Seen:
    """A 2 MB disk: a first ingest fits, a 60,000-row one does not."""
    from nepse.ingest.service import ingest_path

    big = root / "big.csv"
    big.write_text(
        PRICES
        + "\n".join(
            f"S{i:04d},2026-01-{d:02d},300,305,298,{300 + d},10,{(300 + d) * 10}"
            for i in range(3000)
            for d in range(5, 25)
        )
    )
    with small_disk(root, "2m") as disk:
        s = settings_at(disk)
        ingest_path(s, day_file(root, date(2026, 4, 2)), today=date(2026, 4, 30))
        message = refused(lambda: ingest_path(s, big, today=date(2026, 4, 30)), DatabaseError)
        kept = stored_rows(s)
    wrong = () if kept == 12 else (f"{kept} rows stored after the failed ingest, want 12",)
    return Seen(message or "the ingest did not fail", wrong)


def _damaged(kind: str, root: Path) -> Path:
    from nepse.store import open_store

    path = root / f"{kind}.duckdb"
    if kind == "not DuckDB (SQLite)":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
        return path
    good = root / "good.duckdb"
    with open_store(good):
        pass
    data = good.read_bytes()
    if kind == "truncated":
        data = data[: len(data) // 3]
    else:  # corrupt: a block that fails its checksum
        data = data[:5000] + bytes(b ^ 0xFF for b in data[5000:9000]) + data[9000:]
    path.write_bytes(data)
    return path


def damaged_database(kind: str) -> Callable[[Path], Seen]:
    """Ingest into, and a read command on, a database file that is `kind`."""

    def run(root: Path) -> Seen:
        from nepse.ingest.service import ingest_path
        from nepse.store import open_store

        db = _damaged(kind, root)
        before = db.read_bytes()
        s = settings_at(root, db_path=db)
        first = refused(lambda: ingest_path(s, day_file(root, date(2026, 4, 2))), DatabaseError)
        second = refused(lambda: open_store(db, read_only=True), DatabaseError)
        wrong = () if db.read_bytes() == before else ("the damaged file was changed",)
        return Seen(f"ingest: {first or 'no error'}; read: {second or 'no error'}", wrong)

    return run


def read_only_database(root: Path) -> Seen:
    """The database on a disk remounted read-only: ingest refused, reads still work."""
    from nepse.ingest.service import ingest_path
    from nepse.store import open_store

    with small_disk(root, "16m") as disk:
        s = settings_at(disk)
        ingest_path(s, day_file(root, date(2026, 4, 2)), today=date(2026, 4, 30))
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        message = refused(lambda: ingest_path(s, day_file(root, date(2026, 4, 3))), DatabaseError)
        with open_store(s.database, read_only=True) as store:
            kept = store.prices().height
    return Seen(f"{message}; a read still sees {kept} rows", () if kept == 12 else ("rows lost",))


def path_too_long(root: Path) -> Seen:
    from nepse.ingest.service import ingest_path

    s = settings_at(root, db_path=root / ("x" * 300) / "nepse.duckdb")
    return Seen(refused(lambda: ingest_path(s, day_file(root, date(2026, 4, 2))), DatabaseError))


# --- nonsense settings and ranges --------------------------------------------------------------
def nonsense_setting(name: str, value: object) -> Callable[[Path], Seen]:
    def run(root: Path) -> Seen:
        message = refused(lambda: settings_at(root, **{name: value}), ConfigError)
        lines = message.count("\n")
        return Seen(message, () if lines == 0 else (f"the error takes {lines + 1} lines",))

    return run


def backfill_1900_to_2100(root: Path) -> Seen:
    from nepse.ingest.backfill import candidate_days

    today = date.today()
    message = refused(lambda: candidate_days(date(1900, 1, 1), date(2100, 12, 31)), ConfigError)
    late = refused(lambda: candidate_days(today, today + timedelta(days=400)), ConfigError)
    return Seen(f"{message}; {late}")


SCENARIOS_DATA: tuple[Scenario, ...] = (
    Scenario("system clock a year behind", "clock", "clock is behind by 365 day(s)", clock_behind),
    Scenario("disk full during an ingest", "full disk", "the disk holding it is full", full_disk),
    Scenario(
        "database on a read-only disk", "database file", "read-only file system", read_only_database
    ),
    *(
        Scenario(f"database file {kind}", "database file", text, damaged_database(kind))
        for kind, text in (
            ("not DuckDB (SQLite)", "it holds an SQLite database"),
            ("truncated", "it is truncated"),
            ("corrupt", "a block fails its checksum"),
        )
    ),
    Scenario("database path too long", "database file", "path is too long", path_too_long),
    *(
        Scenario(
            f"setting {name} = {str(value)[:30]}",
            "nonsense setting",
            text,
            nonsense_setting(name, value),
        )
        for name, value, text in (
            ("retrain_every", 0, "retrain_every (NEPSE_RETRAIN_EVERY) = 0"),
            ("retrain_every", -21, "allowed: 1..2,520"),
            ("train_years", -1.0, "train_years (NEPSE_TRAIN_YEARS) = -1.0"),
            ("valid_days", -60, "valid_days (NEPSE_VALID_DAYS) = -60"),
            ("api_page_size", 10**12, "api_page_size (NEPSE_API_PAGE_SIZE)"),
            ("seeds", tuple(range(16_000)), "not 16000"),
            ("api_deadline_s", 0, "api_deadline_s (NEPSE_API_DEADLINE_S) = 0"),
        )
    ),
    Scenario(
        "backfill 1900-01-01 .. 2100-12-31",
        "nonsense setting",
        "before NEPSE's first",
        backfill_1900_to_2100,
    ),
)
