"""Evidently's run of the day in a side process, so that its import overlaps the run's own work.

`import evidently` costs 2.7-4.4 s (its metric suite and their pydantic classes; measured in
bench/daily_parts.py) and Python's teardown of those objects another second. The daily run needs
Evidently only for the human-facing part of the drift step: the day's page and its run in the
Evidently workspace. The calibrated verdict, which raises the alarms, is the project's own code
and stays in the run's process. So the run starts this process early (`nepse daily` at its first
line, the flow when its quality gate passes): it imports Evidently on the second core while the
run ingests and scores; the publish step then hands it the day's verdict and waits for the page
(`nepse.app.publish`), reporting a failure as the day's "drift report failed" alert. The
predictions and the verdict are stored either way.

Protocol: one JSON request per line on the process's stdin (`{"id", "op", "args"}`), one JSON
reply per line on its stdout (`{"id", "ok"}` or `{"id", "error"}`), handled in order. Its stderr
(log lines, tracebacks) goes to a temporary file, quoted when the process dies. End of input
ends the process. Run it by hand with `python -m nepse.monitoring.side_serve` and type a
request. This module is the client; what answers is nepse/monitoring/side_serve.py.
"""

from __future__ import annotations

import atexit
import json
import logging
import queue
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from typing import IO, Any

from nepse.errors import NepseError

log = logging.getLogger(__name__)

READY = "ready"


class SideProcessError(NepseError):
    """The Evidently side process failed a request or died."""


class EvidentlySide:
    """Client of one side process: submit requests without waiting, collect their replies."""

    def __init__(self) -> None:
        self._err: IO[bytes] = tempfile.TemporaryFile(prefix="nepse-evidently-side-")  # noqa: SIM115 - closed by close()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "nepse.monitoring.side_serve"],
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
            except ValueError:  # not a reply: the process's own writes go to stderr, still
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

    def describe(self) -> str:
        """For the logs: which process renders, and what its import cost."""
        return f"the Evidently side process (its import took {self.ready_s or '?'} s)"

    def submit(self, op: str, label: str, **args: Any) -> None:
        """Queue request `op` (a name in side_serve.OPS) without waiting; `label` names it in
        errors."""
        with self._lock:
            self._next += 1
            request = {"id": self._next, "op": op, "args": args}
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(json.dumps(request, default=str) + "\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError) as exc:  # ValueError: closed file
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
    (the publish step that needs it tries again and reports the failure as the day's alert)."""
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


def page_label(day: date) -> str:
    """The label of a day's drift-page request (its error's key in `finish_all`)."""
    return f"drift page of {day}"


def workspace_label(day: date) -> str:
    """The label of a day's workspace-run request (its error's key in `finish_all`)."""
    return f"Evidently workspace run of {day}"
