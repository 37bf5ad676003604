"""Prefect flows of the NEPSE prediction service (see docs/architecture.md)."""

import os

import nepse  # noqa: F401  (first: its process settings must precede polars and lightgbm)

# The library's warnings in the run's logs when the CLI runs from another folder than the clone
# (pyproject.toml's [tool.prefect.logging] says the same for a worker); read when prefect loads.
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "nepse")
