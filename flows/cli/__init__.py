"""The `nepse` command: runs the flows and the library's tools from a shell, by command group.

The CLI lives with the flows (not in `nepse/`) because most commands start Prefect flow runs,
and the domain library never imports Prefect.
"""

import atexit
import os
import sys
import threading

from flows.cli import (  # noqa: F401  (each registers its commands)
    api,
    data,
    evaluate,
    models,
    replay,
    reports,
    reports_ui,
    run,
    server,
)
from flows.cli.common import app, debugging, err_console
from nepse.app import NepseError

__all__ = ["app", "main"]


def main() -> None:
    """The console script: run the command, then end the process without Python's teardown.

    A finished command has nothing left to do but free the objects of the modules it imported,
    which takes 0.3-1.1 s for the scientific stack (measured after the at-exit handlers:
    scikit-learn 0.4 s, Prefect 0.3 s, Evidently 1.1 s). So, in the order Python itself uses,
    the other threads are joined, the at-exit handlers run (Prefect's log and event flushing,
    logging's shutdown, the Evidently side process's end) and the streams are flushed; then the
    process exits with the command's code.
    """
    code: int | str | None = 0
    try:
        app()
    except SystemExit as exc:
        code = exc.code
    except NepseError as exc:  # a user error outside a flow run (the registry, the store, ...)
        if debugging():
            raise
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        code = 2
    if isinstance(code, str):
        print(code, file=sys.stderr)
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code or 0)


if __name__ == "__main__":
    main()
