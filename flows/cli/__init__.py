"""The `nepse` command: runs the flows and the library's tools from a shell, by command group.

The CLI lives with the flows (not in `nepse/`) because most commands start Prefect flow runs,
and the domain library never imports Prefect.
"""

from flows.cli import data, evaluate, models, reports, reports_ui, run, server  # noqa: F401  (each registers its commands)
from flows.cli.common import app

__all__ = ["app"]

if __name__ == "__main__":
    app()
