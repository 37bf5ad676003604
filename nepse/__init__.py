"""NEPSE prediction service: the domain library (no orchestration; never imports prefect)."""

__version__ = "0.1.0"
