"""The errors the service raises: one base class and a few kinds, each saying what to fix."""

from __future__ import annotations


class NepseError(Exception):
    """Base class of every error raised on purpose by the nepse library."""


class ConfigError(NepseError):
    """A setting or the config file is invalid."""


class SourceError(NepseError):
    """A price source could not be read (file missing, HTTP failure, unknown format)."""


class TransientSourceError(SourceError):
    """A source failure that may go away if retried (timeout, connection reset, 5xx, 429)."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DataQualityError(NepseError):
    """Input data breaks a schema or quality rule badly enough that the run must stop."""


class DatabaseError(NepseError):
    """The database file cannot be used: not writable, damaged, not DuckDB, disk full, ..."""


class DatabaseLockedError(NepseError):
    """Another process holds the DuckDB file open for writing."""

    def __init__(self, message: str, *, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class NotEnoughHistoryError(NepseError):
    """Too few trading days are stored to build features, train or evaluate."""


class ModelNotFoundError(NepseError):
    """No model (or no model file) exists for the version asked for."""
