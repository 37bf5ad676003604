"""The DuckDB store: the only door to the database."""

from nepse.store.database import *  # noqa: F403
from nepse.store.database import (  # noqa: F401
    LIMIT_TOLERANCE,
    MIGRATIONS,
    STAGES,
    DayRecord,
    IngestReport,
    Store,
    latest_version,
    open_store,
)
