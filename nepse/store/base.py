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

from nepse.errors import DatabaseLockedError, NepseError
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


def connect(path: Path, *, read_only: bool, lock_timeout_s: float) -> duckdb.DuckDBPyConnection:
    """Open the DuckDB file, retrying a lock conflict until `lock_timeout_s` has passed."""
    deadline = time.monotonic() + max(lock_timeout_s, 0.0)
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            locked = _lock_error(path, exc)
            if locked is None:
                if read_only and not path.exists():
                    raise NepseError(
                        f"database {path} does not exist; run a writing command (e.g. ingest) "
                        f"first to create it"
                    ) from exc
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise locked from exc
            log.info("database %s is locked by PID %s; retrying", path, locked.pid)
            time.sleep(min(0.2, remaining))


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
        return self._con.execute(sql, params).fetchall()

    def _frame(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a query and return its whole result as a Polars frame."""
        return self._con.sql(sql, params=params).pl()

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
        """Make a Polars frame queryable as view `name` (until `_unregister`)."""
        self._con.register(name, frame.to_arrow())

    def _unregister(self, *names: str) -> None:
        for name in names:
            self._con.unregister(name)

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
        self._con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._con.execute("ROLLBACK")
            raise
        self._depth = 0
        self._con.execute("COMMIT")

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
