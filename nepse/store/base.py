"""The connection under every store method: opening with lock handling, migrations, transactions.

DuckDB lets one process hold a database file open for writing, and while it does no other
process may open it, not even read-only. A lock conflict becomes a `DatabaseLockedError` naming
the holder's PID (the Prefect tasks retry it with backoff).
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from nepse.errors import DatabaseError, DatabaseLockedError, NepseError
from nepse.store import migrations

log = logging.getLogger(__name__)

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<exe>.*?) \(PID (?P<pid>\d+)\)")


def now_utc() -> datetime:
    """Current UTC time as a naive timestamp (stored columns are UTC by convention)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _lock_error(path: Path, exc: duckdb.Error) -> DatabaseLockedError | None:
    """A DatabaseLockedError for DuckDB's lock-conflict IOException, else None."""
    text = str(exc)
    if "Could not set lock" not in text:
        return None
    match = _LOCK_RE.search(text)
    pid = int(match["pid"]) if match else None
    holder = f"PID {pid} ({match['exe']})" if match else "another process"
    return DatabaseLockedError(
        f"database {path} is in use by {holder}. Only one process may have it open for "
        f"writing, and readers must wait while a writer holds it. Wait for that process to "
        f"finish (or stop it: kill {pid if pid else '<pid>'}), or set NEPSE_LOCK_TIMEOUT_S "
        f"to wait longer before giving up.",
        pid=pid,
    )


_FIX_DAMAGED = (
    "restore it from a backup, or move it away (the next ingest creates a new one) and load "
    "the prices again"
)
# DuckDB's message -> what it means for the user, and what to do.
_CAUSES = (
    (
        "No space left on device",
        "the disk holding it is full",
        "nothing of the failed write was kept (it rolled back); free space on that disk and run "
        "again",
    ),
    (
        "Disk quota exceeded",
        "the disk quota is used up",
        "nothing of the failed write was kept (it rolled back); free space and run again",
    ),
    (
        "Read-only file system",
        "it is on a read-only file system",
        "point NEPSE_DB_PATH at a writable place, or remount the disk read-write",
    ),
    (
        "Permission denied",
        "this user may not write it",
        "fix its permissions (chmod u+w, or the owner), or point NEPSE_DB_PATH elsewhere",
    ),
    ("File name too long", "its path is too long for the file system", "use a shorter path"),
    ("Is a directory", "it is a folder, not a file", "point NEPSE_DB_PATH at a file"),
    ("not a valid DuckDB database", "it is not a DuckDB database", _FIX_DAMAGED),
    ("Could not read enough bytes", "it is truncated (shorter than DuckDB wrote it)", _FIX_DAMAGED),
    ("Corrupt database file", "it is damaged (a block fails its checksum)", _FIX_DAMAGED),
    ("Failed to download extension", "it is not a DuckDB database", _FIX_DAMAGED),
)


def db_error(path: Path, exc: BaseException) -> DatabaseError | None:
    """A DatabaseError naming the file, the cause and the fix for an OS or file-level failure
    (disk full, read-only, damaged, not DuckDB, path too long); None for anything else."""
    text = str(exc)
    for needle, what, fix in _CAUSES:
        if needle in text:
            first = text.splitlines()[0] if text else type(exc).__name__
            return DatabaseError(f"database {path} cannot be used: {what} ({first}); {fix}")
    return None


def _check_file(path: Path) -> None:
    """DatabaseError for a path that is a folder or a file that is not DuckDB's (before DuckDB
    opens it: DuckDB would try to load a reader extension for, say, a SQLite file)."""
    try:
        if path.is_dir():
            raise DatabaseError(
                f"database {path} cannot be used: it is a folder, not a file; point "
                "NEPSE_DB_PATH at a file"
            )
        if not path.is_file() or path.stat().st_size == 0:
            return
        with path.open("rb") as fh:
            head = fh.read(16)
    except OSError as exc:
        raise db_error(path, exc) or DatabaseError(
            f"database {path} cannot be read ({exc.strerror or exc}); check the path"
        ) from exc
    if head[8:12] != b"DUCK":
        kind = "an SQLite database" if head.startswith(b"SQLite format 3") else "something else"
        raise DatabaseError(
            f"database {path} cannot be used: it is not a DuckDB database (it holds {kind}: "
            f"the file starts {head[:16]!r}); {_FIX_DAMAGED}"
        )


def connect(path: Path, *, read_only: bool, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying a lock conflict until `lock_timeout_s` has passed."""
    deadline = time.monotonic() + max(lock_timeout_s, 0.0)
    _check_file(path)
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=_CONFIG)
            # No progress bar: a long ingest would draw one on the terminal of `nepse ingest`.
            con.execute("SET enable_progress_bar = false")
            return con
        except duckdb.Error as exc:
            locked = _lock_error(path, exc)
            if locked is None:
                if read_only and not path.exists():
                    raise NepseError(
                        f"database {path} does not exist; run a writing command (e.g. ingest) "
                        f"first to create it"
                    ) from exc
                mapped = db_error(path, exc)
                if mapped is None:
                    raise
                raise mapped from exc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise locked from exc
            log.info("database %s is locked by PID %s; retrying", path, locked.pid)
            time.sleep(min(0.2, remaining))


# Never fetch or load an extension: a file that is not DuckDB's must be an error, not a download.
# DuckDB's buffer memory while an ingest is stored and committed. 160 MB was enough for one 200
# MB file (3.2 million rows) but not for the legacy export merged over ShareSansar (per-column
# picks over ~10^5 keys held by two sources: out of memory at 256 MB, fine at 320 MB); 384 MB
# leaves a margin, and the 200 MB file then peaks at 1.44 GB resident (bench/ingest_memory.py).
INGEST_MEMORY_LIMIT = "384MB"
_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class StoreBase:
    """An open DuckDB connection with the service's schema; table families add methods."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, *, read_only: bool) -> None:
        self._con = con
        self.path = path
        self.read_only = read_only
        self._depth = 0

    # --- lifecycle ----------------------------------------------------------------------------
    def __enter__(self) -> StoreBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (releases the file lock)."""
        self._con.close()

    # --- statements -----------------------------------------------------------------------------
    def _exec(self, sql: str, params: list[Any] | None = None) -> list[tuple]:
        """Execute one statement and fetch its whole result (DuckDB wants results consumed)."""
        try:
            return self._con.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            self._raise_mapped(exc)
            raise

    def _frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a query and return its whole result as a Polars frame."""
        try:
            return self._con.sql(sql, params=params).pl()
        except duckdb.Error as exc:
            self._raise_mapped(exc)
            raise

    def _raise_mapped(self, exc: duckdb.Error) -> None:
        """Raise the DatabaseError for an OS or file-level DuckDB failure (else return)."""
        mapped = db_error(self.path, exc)
        if mapped is not None:
            raise mapped from exc

    def _select(
        self, table: str, order: str, *, start: Any = None, end: Any = None, **lists: Any
    ) -> pl.DataFrame:
        """`SELECT *` of `table` with dates start..end (inclusive) and column IN list filters.

        `lists` maps a column to the values it may take (None: no filter), e.g. symbol=[...];
        the DuckDB list type is inferred from the column name (`date` is DATE, else VARCHAR).
        """
        where, params = ["true"], []
        for column, values in lists.items():
            if values is not None:
                kind = "DATE" if column == "date" else "VARCHAR"
                where.append(f"list_contains(?::{kind}[], {column})")
                params.append(list(values))
        if start is not None:
            where.append("date >= ?")
            params.append(start)
        if end is not None:
            where.append("date <= ?")
            params.append(end)
        return self._frame(
            f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY {order}", params
        )

    def _register(self, name: str, frame: pl.DataFrame) -> None:
        """Make a Polars frame queryable as view `name` (until `_unregister`).

        Arrow's string views are Polars' own strings: no copy of the frame's text (the default
        conversion copies every string, 0.2 GB for a 200 MB price file)."""
        self._con.register(name, frame.to_arrow(compat_level=pl.CompatLevel.newest()))

    @contextlib.contextmanager
    def ingest_memory(self) -> Iterator[None]:
        """DuckDB's buffer memory limited to INGEST_MEMORY_LIMIT inside the block: a large input
        (a 200 MB file's 3 million rows) would otherwise let DuckDB grow by gigabytes for its
        joins, temporary tables and the commit's checkpoint."""
        with self.memory_limit(INGEST_MEMORY_LIMIT):
            yield

    @contextlib.contextmanager
    def memory_limit(self, limit: str) -> Iterator[None]:
        """DuckDB's buffer memory limited to `limit` inside the block (beyond it DuckDB spills
        to `<database>.tmp`), the default (80 % of the machine) after."""
        self._exec(f"SET memory_limit = '{limit}'")
        # Insertion order is nothing to these tables (keyed); keeping it pins buffers in memory.
        self._exec("SET preserve_insertion_order = false")
        try:
            yield
        finally:
            with contextlib.suppress(duckdb.Error):
                self._con.execute("RESET memory_limit")
                self._con.execute("RESET preserve_insertion_order")

    def _unregister(self, *names: str) -> None:
        for name in names:
            try:
                self._con.unregister(name)
            except duckdb.TransactionException:
                # The transaction failed: DuckDB refuses until ROLLBACK, which the caller's
                # transaction() issues; the view goes with the connection. Raising here would
                # hide the failure's real cause behind "Current transaction is aborted".
                log.debug("view %s left registered in an aborted transaction", name)

    def _require_writable(self, what: str) -> None:
        if self.read_only:
            raise NepseError(f"database {self.path} was opened read-only; cannot {what}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction: everything inside commits together or not at all.

        Nested use joins the outer transaction. BaseException too: a KeyboardInterrupt
        mid-write must not leave a transaction open.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._exec("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException as exc:
            self._depth = 0
            try:
                self._con.execute("ROLLBACK")
            except duckdb.Error as again:  # a full disk may fail the rollback too
                log.warning("rollback of %s failed after %r: %s", self.path, exc, again)
            if isinstance(exc, duckdb.Error):
                self._raise_mapped(exc)
            raise
        self._depth = 0
        try:
            self._con.execute("COMMIT")
        except duckdb.Error as exc:
            with contextlib.suppress(duckdb.Error):  # DuckDB may have ended it already
                self._con.execute("ROLLBACK")
            self._raise_mapped(exc)
            raise

    # --- schema ---------------------------------------------------------------------------------
    def schema_version(self) -> int:
        """Highest applied migration version (0 for a database without the migrations table)."""
        exists = self._exec(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_name = 'schema_migrations' AND table_schema = 'main'"
        )[0][0]
        if not exists:
            return 0
        versions = {r[0] for r in self._exec("SELECT version FROM schema_migrations")}
        # A legacy number is legacy only where its new number is not recorded too (a database
        # migrated past it holds both as themselves).
        legacy = {o: n for o, n in migrations.LEGACY_VERSIONS.items() if n not in versions}
        return max((legacy.get(v, v) for v in versions), default=0)

    def applied_migrations(self) -> pl.DataFrame:
        """The schema_migrations table, oldest first."""
        return self._frame("SELECT * FROM schema_migrations ORDER BY version")

    def migrate(self) -> list[int]:
        """Apply the migrations not yet recorded, each in its own transaction; return them."""
        migrations.check_contiguous(migrations.MIGRATIONS)
        self._exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        with self.transaction():
            for old, new in migrations.LEGACY_VERSIONS.items():
                self._exec(
                    "UPDATE schema_migrations SET version = ? WHERE version = ? AND NOT EXISTS "
                    "(SELECT 1 FROM schema_migrations WHERE version = ?)",
                    [new, old, new],
                )
        applied = {r[0] for r in self._exec("SELECT version FROM schema_migrations")}
        latest = migrations.latest_version()
        if applied and max(applied) > latest:
            raise NepseError(
                f"database {self.path} has schema version {max(applied)}, newer than this code "
                f"({latest}); upgrade nepse-predict"
            )
        done = []
        for version, sql in migrations.MIGRATIONS:
            if version in applied:
                continue
            with self.transaction():
                self._exec(sql)
                self._exec("INSERT INTO schema_migrations VALUES (?, ?)", [version, now_utc()])
            log.info("applied migration %d to %s", version, self.path)
            done.append(version)
        return done
