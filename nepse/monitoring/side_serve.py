"""The Evidently side process and service: what answers `nepse.monitoring.side`'s requests.

Started as `python -m nepse.monitoring.side_serve` (one run's side process: requests on stdin until
end of input) or `python -m nepse.monitoring.side_serve --listen SOCKET [LOG]` (the Evidently
service: every run's requests on a Unix socket, until SIGTERM). The protocol and the clients
are in nepse/monitoring/side.py.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import traceback
from datetime import date
from pathlib import Path
from typing import IO

from nepse.monitoring.side import HELLO, READY, code_fingerprint

log = logging.getLogger(__name__)


def drift_page(
    baseline_dir: str,
    current: str,
    columns: list[str],
    day: str,
    out_html: str,
    banner: str,
    workspace_dir: str | None,
) -> str:
    """Evidently's drift run over `columns` of the window in `current` (Parquet) against the
    baseline saved in `baseline_dir`: its page with `banner` on top, and the workspace run."""
    import polars as pl

    from nepse.monitoring.baseline import DriftBaseline
    from nepse.monitoring.workspace import add_to_workspace, drift_snapshot, write_page

    baseline = DriftBaseline.load(Path(baseline_dir))
    snap = drift_snapshot(baseline, pl.read_parquet(current), columns, date.fromisoformat(day))
    write_page(snap, banner, Path(out_html))
    if workspace_dir is not None:
        add_to_workspace(Path(workspace_dir), snap)
    return out_html


def numbers_run(numbers: dict[str, float], day: str, workspace_dir: str) -> str:
    """Add the day's computed monitoring numbers to the workspace as one run."""
    from nepse.monitoring.workspace import add_to_workspace, numbers_snapshot

    return add_to_workspace(Path(workspace_dir), numbers_snapshot(numbers, date.fromisoformat(day)))


OPS = {"drift_page": drift_page, "numbers_run": numbers_run}


def _import_evidently() -> float:
    """The slow imports the side process exists for; their seconds."""
    t0 = time.perf_counter()
    import evidently.metrics
    import evidently.ui.workspace  # noqa: F401

    import nepse.monitoring.workspace  # noqa: F401

    return round(time.perf_counter() - t0, 3)


def _answer(requests: IO[str], replies: IO[str], one_at_a_time: threading.Lock) -> None:
    """Answer each request line with a reply line, in order, until end of input."""
    for line in requests:
        request = json.loads(line)
        with one_at_a_time:
            try:
                result = OPS[request["op"]](**request["args"])
                reply = {"id": request["id"], "ok": result}
            except Exception as exc:
                traceback.print_exc()
                reply = {"id": request["id"], "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply, default=str) + "\n")
        replies.flush()


def serve() -> None:
    """The side process: import Evidently, then answer requests until end of input."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not break the replies
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    replies.write(json.dumps({READY: _import_evidently()}) + "\n")
    _answer(sys.stdin, replies, threading.Lock())
    replies.flush()
    sys.stderr.flush()
    os._exit(0)  # Python's teardown of Evidently's objects takes ~1 s and saves nothing


def serve_socket(path: str, log_path: str | None = None) -> None:
    """The Evidently service: listen on the Unix socket `path` at once (a run that connects
    while Evidently imports gets its hello and waits), import Evidently, then answer every
    connection's requests, one request at a time, until SIGTERM or SIGINT."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a previous service's socket (it was killed)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)

    def stop(signum: int, frame: object) -> None:
        # No flush here: the main thread may be inside a write (stderr is line-buffered).
        with contextlib.suppress(OSError):
            os.unlink(path)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    hello = {HELLO: {"code": code_fingerprint(), "pid": os.getpid(), "log": log_path}}
    imported = threading.Event()
    import_s: list[float] = []
    one_at_a_time = threading.Lock()

    def handle(conn: socket.socket) -> None:
        rf = conn.makefile("r", encoding="utf-8")
        wf = conn.makefile("w", encoding="utf-8")
        try:
            wf.write(json.dumps(hello) + "\n")
            wf.flush()
            imported.wait()
            wf.write(json.dumps({READY: import_s[0]}) + "\n")
            wf.flush()
            _answer(rf, wf, one_at_a_time)
        except OSError as exc:  # the run went away (a stale client hangs up after the hello)
            log.info("a run's connection ended early: %s", exc)
        finally:
            for f in (rf, wf):
                with contextlib.suppress(OSError):
                    f.close()
            conn.close()

    def accept() -> None:
        while True:
            conn, _ = server.accept()
            threading.Thread(target=handle, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, name="accept", daemon=True).start()
    import_s.append(_import_evidently())
    imported.set()
    log.info("Evidently service on %s: imported in %.2f s", path, import_s[0])
    while True:
        signal.pause()


def main() -> None:
    """`[--listen SOCKET [LOG]]`: the service on SOCKET, else the side process on stdin."""
    if sys.argv[1:2] == ["--listen"]:
        serve_socket(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        serve()


if __name__ == "__main__":
    main()
