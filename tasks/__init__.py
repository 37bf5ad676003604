"""Prefect tasks of the NEPSE prediction service: thin wrappers of the nepse library."""

import nepse  # noqa: F401  (first: its process settings must precede polars and lightgbm)
