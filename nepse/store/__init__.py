"""The DuckDB store: the only door to the database.

`open_store(path)` returns a `Store`: one connection with the service's schema (migrated, and its
`beyond_limit` flags brought in line with nepse/market/rules.toml, on a writable open) and a
named method for everything a caller needs, grouped by table family in the modules of this
package. Nothing outside `nepse/store/` imports duckdb or writes SQL.
"""

from __future__ import annotations

import logging
from pathlib import Path

from nepse.errors import DatabaseError, NepseError
from nepse.schema import DAY_STATUSES
from nepse.store.base import StoreBase, connect, db_error
from nepse.store.days import DayRecord, DaysMixin
from nepse.store.migrations import MIGRATIONS, latest_version
from nepse.store.models import ModelsMixin
from nepse.store.paper import PaperMixin
from nepse.store.predictions import PredictionsMixin
from nepse.store.prices import STAGES, PricesMixin, WriteCounts
from nepse.store.security_history import SecurityHistoryMixin
from nepse.store.source_files import SourceFilesMixin

log = logging.getLogger(__name__)

__all__ = [
    "DAY_STATUSES",
    "MIGRATIONS",
    "STAGES",
    "DayRecord",
    "Store",
    "WriteCounts",
    "latest_version",
    "open_store",
]


class Store(
    PricesMixin,
    DaysMixin,
    PredictionsMixin,
    ModelsMixin,
    SecurityHistoryMixin,
    PaperMixin,
    SourceFilesMixin,
    StoreBase,
):
    """An open DuckDB database with the service's schema. Use as a context manager."""

    def __enter__(self) -> Store:
        return self


def open_store(path: Path, *, read_only: bool = False, lock_timeout_s: float = 0.0) -> Store:
    """Open (creating and migrating when writable) the DuckDB store at `path`."""
    path = Path(path)
    if not read_only:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise db_error(path, exc) or DatabaseError(
                f"database {path} cannot be created: its folder cannot be made ({exc.strerror}); "
                "point NEPSE_DB_PATH (or NEPSE_DATA_DIR) at a writable place"
            ) from exc
    con = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    store = Store(con, path, read_only=read_only)
    try:
        if read_only:
            version = store.schema_version()
            if version < latest_version():
                raise NepseError(
                    f"database {path} has schema version {version}, this code needs "
                    f"{latest_version()}; run any writing command (e.g. ingest) once to "
                    f"migrate it, then retry"
                )
            if not store.flags_in_sync():
                log.warning(
                    "database %s: the beyond_limit flags were computed with other price limits "
                    "than nepse/market/rules.toml's; any writing command (e.g. ingest) "
                    "recomputes them",
                    path,
                )
        else:
            store.migrate()
            store.sync_flags()
    except BaseException:
        con.close()
        raise
    return store
