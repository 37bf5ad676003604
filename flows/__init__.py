"""Prefect flows of the NEPSE prediction service (see docs/architecture.md)."""

import nepse  # noqa: F401  (first: its process settings must precede polars and lightgbm)
