"""Evidently's runs in a side process, so that its import overlaps the daily run's other work.

`import evidently` costs 2-4 s on this machine (its legacy metric suite and their pydantic
classes; measured in bench/daily_parts.py) and Python's teardown of those objects another 1.1 s.
The daily run needs Evidently only for the human-facing part of the drift step: the HTML page
and the workspace runs. The calibrated verdict, which raises the alarms, is the project's own
code and stays in the run's process. So the run starts this process early (the CLI when it
starts, the flow when its quality gate passes): it imports Evidently on the second core while
the run ingests and scores, then renders the page while the run evaluates and publishes.
`publish_results` waits for it and reports a failed page as the day's "drift report failed"
alert; the predictions and the verdict are stored either way.

Protocol: one JSON request per line on the process's stdin (`{"id", "op", "args"}`), one JSON
reply per line on its stdout (`{"id", "ok"}` or `{"id", "error"}`), handled in order. Its stderr
(log lines, tracebacks) goes to a temporary file, quoted when the process dies. End of input
ends the process. Run it by hand with `python -m nepse.monitoring.side` and type a request.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from datetime import date
from pathlib import Path
from typing import Any

from nepse.errors import NepseError

log = logging.getLogger(__name__)

READY = "ready"


class SideProcessError(NepseError):
    """The Evidently side process failed a request or died."""


class EvidentlySide:
    """Client of one side process: submit requests without waiting, collect their replies."""

    def __init__(self) -> None:
        self._err = tempfile.TemporaryFile(prefix="nepse-evidently-side-")  # noqa: SIM115 - closed by close()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "nepse.monitoring.side"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self._err,
                text=True,
                bufsize=1,
            )
        except OSError:
            self._err.close()
            raise
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="nepse-evidently-side", daemon=True)
        self._reader.start()
        self._next = 0
        self._pending: dict[int, str] = {}
        self._lock = threading.Lock()
        self.ready_s: float | None = None

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                self._replies.put(json.loads(line))
            except ValueError:  # not a reply: the process's own writes go to stderr, but still
                log.warning("Evidently side process wrote a non-reply line: %r", line[:200])
        self._replies.put(None)  # end of output: the process has exited

    @property
    def pid(self) -> int:
        """The side process's id."""
        return self._proc.pid

    @property
    def pending(self) -> int:
        """How many submitted requests have no reply yet."""
        return len(self._pending)

    @property
    def alive(self) -> bool:
        """Is the process still running?"""
        return self._proc.poll() is None

    def submit(self, op: str, label: str, **args: Any) -> None:
        """Queue request `op` (a name in OPS) without waiting; `label` names it in errors."""
        with self._lock:
            self._next += 1
            request = {"id": self._next, "op": op, "args": args}
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(json.dumps(request, default=str) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError) as exc:
                raise SideProcessError(f"Evidently side process is gone: {self._stderr()}") from exc
            self._pending[self._next] = label

    def finish(self, timeout_s: float = 300.0) -> dict[str, str]:
        """Wait for every submitted request; returns {label: error} of those that failed."""
        failed: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._pending:
                try:
                    reply = self._replies.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    self._fail_pending(failed, f"no reply within {timeout_s:.0f} s")
                    self._proc.kill()
                    break
                if reply is None:  # the process died: every request still pending failed
                    self._replies.put(None)
                    self._fail_pending(failed, f"the process exited: {self._stderr()}")
                    break
                if READY in reply:
                    self.ready_s = reply[READY]
                    continue
                label = self._pending.pop(reply["id"], None)
                if label is not None and "error" in reply:
                    failed[label] = reply["error"]
        return failed

    def _fail_pending(self, failed: dict[str, str], why: str) -> None:
        for label in self._pending.values():
            failed[label] = why
        self._pending.clear()

    def _stderr(self, chars: int = 2000) -> str:
        self._err.flush()
        self._err.seek(0)
        text = self._err.read().decode("utf-8", "replace").strip()
        return text[-chars:] or "(no output)"

    def close(self, timeout_s: float = 10.0) -> None:
        """End the process (end of input) and wait for it, so its CPU counts to this one."""
        try:
            if self._proc.stdin is not None and not self._proc.stdin.closed:
                self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._err.close()


_current: EvidentlySide | None = None
_dead: list[EvidentlySide] = []  # replaced after dying with requests pending: finish_all reports
_current_lock = threading.Lock()


def start() -> EvidentlySide:
    """This process's side process: the running one, else a new one (ended at exit)."""
    global _current
    with _current_lock:
        if _current is None or not _current.alive:
            if _current is not None and _current.pending:
                _dead.append(_current)
            _current = EvidentlySide()
            atexit.register(_current.close)
        return _current


def prestart() -> None:
    """Start this process's side process ahead of need; if it cannot start, say so and go on
    (the drift step that needs it tries again and reports the failure as the day's alert)."""
    try:
        start()
    except OSError as exc:
        log.warning("Evidently side process not started ahead: %s", exc)


def running() -> EvidentlySide | None:
    """This process's current side process, if one was started."""
    return _current


def finish_all(timeout_s: float = 300.0) -> dict[str, str]:
    """Wait for every request submitted from this process; {label: error} of those that failed."""
    with _current_lock:
        sides = [*_dead, *([_current] if _current is not None else [])]
        _dead.clear()
    failed: dict[str, str] = {}
    for s in sides:
        failed.update(s.finish(timeout_s))
    return failed


def drift_page_label(day: date) -> str:
    """The label of a day's drift-page request (its error's key in `finish_all`)."""
    return f"drift page of {day}"


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


def serve() -> None:
    """The side process: import Evidently, then answer requests until end of input."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not break the replies
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    t0 = time.perf_counter()
    # The slow imports this process exists for:
    import evidently.metrics
    import evidently.ui.workspace  # noqa: F401

    import nepse.monitoring.workspace  # noqa: F401

    replies.write(json.dumps({READY: round(time.perf_counter() - t0, 3)}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            result = OPS[request["op"]](**request["args"])
            reply = {"id": request["id"], "ok": result}
        except Exception as exc:
            traceback.print_exc()
            reply = {"id": request["id"], "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply, default=str) + "\n")
    replies.flush()
    sys.stderr.flush()
    os._exit(0)  # Python's teardown of Evidently's objects takes ~1 s and saves nothing


if __name__ == "__main__":
    serve()
