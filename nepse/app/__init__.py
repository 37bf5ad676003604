"""The application layer: one function per step of a run, callable from a notebook.

Prefect tasks (`tasks/`) call these functions and nothing else of `nepse`: settings in, one
call, one of the library's frozen values out. The stages below (sources, ingest, store,
features, model, monitoring) know nothing of runs; this layer strings them into the steps a run
is made of.
"""

from nepse.errors import (
    ConfigError,
    DatabaseLockedError,
    NepseError,
    SourceError,
    TransientSourceError,
)
from nepse.settings import Settings, load_settings

__all__ = [
    "ConfigError",
    "DatabaseLockedError",
    "NepseError",
    "Settings",
    "SourceError",
    "TransientSourceError",
    "load_settings",
]
