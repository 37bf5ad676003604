"""A database file that cannot be used is one DatabaseError naming it, the cause and the fix."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from nepse.errors import DatabaseError
from nepse.ingest.service import ingest_path
from nepse.store import open_store

PRICES = (
    "symbol,date,open,high,low,close,volume,turnover\nADBL,2026-01-05,300,305,298,301,10,3010\n"
)


@contextlib.contextmanager
def mounted(size: str, *, read_only_after: Path | None = None):
    """A tmpfs of `size` (root only: the test is skipped otherwise); optionally remounted ro."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("needs root to mount a small tmpfs")
    where = Path(os.environ.get("TMPDIR", "/tmp")) / f"nepse-tmpfs-{os.getpid()}"
    where.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)])
    if done.returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)
        with contextlib.suppress(OSError):
            where.rmdir()


def a_database(tmp_path: Path) -> Path:
    db = tmp_path / "good.duckdb"
    with open_store(db):
        pass
    return db


def damaged(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.duckdb"
    if kind == "text":
        path.write_text("hello, this is not a database\n" * 20)
    elif kind == "sqlite":
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE t (x)")
        con.commit()
        con.close()
    elif kind == "empty":
        path.touch()
    elif kind == "folder":
        path.mkdir()
    else:
        data = a_database(tmp_path).read_bytes()
        if kind == "truncated":
            data = data[: len(data) // 3]
        else:  # a block that fails its checksum
            data = data[:5000] + bytes(b ^ 0xFF for b in data[5000:9000]) + data[9000:]
        path.write_bytes(data)
    return path


KINDS = {
    "text": "it is not a DuckDB database",
    "sqlite": "it holds an SQLite database",
    "empty": "it is not a DuckDB database",
    "folder": "it is a folder, not a file",
    "truncated": "it is truncated",
    "corrupt": "a block fails its checksum",
}


@pytest.mark.parametrize("read_only", [False, True], ids=["write", "read"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_damaged_or_foreign_file_is_one_clear_error(tmp_path, kind, read_only):
    path = damaged(kind, tmp_path)
    with pytest.raises(DatabaseError) as caught:
        open_store(path, read_only=read_only)
    message = str(caught.value)
    assert message.startswith(f"database {path} cannot be used: {KINDS[kind]}".split(":")[0])
    assert KINDS[kind] in message
    assert "\n" not in message


def test_an_ingest_into_a_damaged_file_changes_nothing_and_says_so(settings, tmp_path):
    bad = damaged("sqlite", tmp_path)
    before = bad.read_bytes()
    (tmp_path / "p.csv").write_text(PRICES)
    with pytest.raises(DatabaseError, match="SQLite database"):
        ingest_path(settings.model_copy(update={"db_path": bad}), tmp_path / "p.csv")
    assert bad.read_bytes() == before


def test_a_path_too_long_is_one_clear_error(tmp_path):
    long = tmp_path / ("x" * 300) / "nepse.duckdb"
    for read_only in (False, True):
        with pytest.raises(DatabaseError, match="path is too long"):
            open_store(long, read_only=read_only)


def test_a_database_on_a_read_only_disk_is_one_clear_error(tmp_path):
    with mounted("8m") as disk:
        db = a_database(disk)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        with pytest.raises(DatabaseError, match=r"read-only file system.*NEPSE_DB_PATH"):
            open_store(db)
        with open_store(db, read_only=True) as st:  # a read command still works
            assert st.prices().is_empty()


def test_a_full_disk_during_an_ingest_names_the_cause_and_keeps_the_data(settings, tmp_path):
    many = "\n".join(
        f"S{i:04d},2026-01-{d:02d},300,305,298,{300 + d},10,{(300 + d) * 10}"
        for i in range(3000)
        for d in range(5, 25)
    )
    (tmp_path / "small.csv").write_text(PRICES)
    (tmp_path / "big.csv").write_text("symbol,date,open,high,low,close,volume,turnover\n" + many)
    with mounted("2m") as disk:
        s = settings.model_copy(update={"db_path": disk / "nepse.duckdb"})
        ingest_path(s, tmp_path / "small.csv")
        with pytest.raises(DatabaseError) as caught:
            ingest_path(s, tmp_path / "big.csv")
        message = str(caught.value)
        assert f"database {disk / 'nepse.duckdb'}" in message
        assert "the disk holding it is full" in message and "No space left on device" in message
        assert "Current transaction is aborted" not in message
        with open_store(s.database, read_only=True) as st:
            assert st.prices().select("symbol", "close").rows() == [("ADBL", 301.0)]
            assert st.runs().height == 1


@pytest.mark.parametrize("command", [["models", "list"], ["reports", "build"]])
def test_read_commands_print_the_error_not_a_traceback(tmp_path, command):
    bad = damaged("text", tmp_path)
    env = {**os.environ, "NEPSE_DATA_DIR": str(tmp_path), "NEPSE_DB_PATH": str(bad)}
    env["PREFECT_HOME"] = str(tmp_path / "prefect")
    code = "import sys; from flows.cli import main; sys.argv = ['nepse', *sys.argv[1:]]; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, *command],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 2, done.stdout + done.stderr  # a file the user must fix
    assert f"error: database {bad} cannot be used: it is not a DuckDB database" in done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_unregistering_after_a_failed_statement_does_not_hide_the_cause(tmp_path):
    with open_store(tmp_path / "db.duckdb") as st:
        with pytest.raises(Exception, match="does not exist") as caught, st.transaction():
            st._register("_x", pl.DataFrame({"a": [1]}))
            try:
                st._exec("SELECT * FROM no_such_table")
            finally:
                st._unregister("_x")
        assert "aborted" not in str(caught.value)
