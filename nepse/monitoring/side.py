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
ends the process. Run it by hand with `python -m nepse.monitoring.side_serve` and type a
request. This module is the client; what answers is nepse/monitoring/side_serve.py.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import queue
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import IO, Any

from nepse.errors import NepseError

log = logging.getLogger(__name__)

READY = "ready"
HELLO = "hello"
SERVICE_ENV = "NEPSE_EVIDENTLY_SERVICE"
"""Environment variable with the Unix socket of a running Evidently service."""
HELLO_TIMEOUT_S = 5.0


class SideProcessError(NepseError):
    """The Evidently side process failed a request or died."""


class StaleServiceError(SideProcessError):
    """The Evidently service runs other code than this process (or does not say which)."""


def code_fingerprint() -> str:
    """Which code a process runs: the interpreter, Evidently's version, and the size and
    modification time of every nepse source file (a stat each: a few milliseconds)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        evidently_version = version("evidently")
    except PackageNotFoundError:
        evidently_version = "?"
    h = hashlib.sha256(f"{sys.executable}\0{evidently_version}\n".encode())
    root = Path(__file__).resolve().parents[1]
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


class EvidentlySide:
    """Client of one side process, or of one connection to the Evidently service (`service`, a
    socket path): submit requests without waiting, collect their replies."""

    def __init__(self, service: str | None = None) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._sock: socket.socket | None = None
        self._err: IO[bytes] | None = None
        self.service_log: str | None = None
        self.service_pid: int | None = None
        if service is None:
            self._spawn()
        else:
            self._connect(service)
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._ended = threading.Event()
        self._reader = threading.Thread(target=self._read, name="nepse-evidently-side", daemon=True)
        self._reader.start()
        self._next = 0
        self._pending: dict[int, str] = {}
        self._lock = threading.Lock()
        self.ready_s: float | None = None

    def _spawn(self) -> None:
        self._err = tempfile.TemporaryFile(prefix="nepse-evidently-side-")  # noqa: SIM115 - closed by close()
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
        self._out: IO[str] = self._proc.stdin  # type: ignore[assignment]
        self._in: IO[str] = self._proc.stdout  # type: ignore[assignment]

    def _connect(self, path: str) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(HELLO_TIMEOUT_S)
            sock.connect(path)
            self._in = sock.makefile("r", encoding="utf-8", newline="\n")
            hello = json.loads(self._in.readline() or "{}").get(HELLO) or {}
            if hello.get("code") != code_fingerprint():
                raise StaleServiceError(
                    f"the Evidently service at {path} runs other code than this process "
                    "(the project changed since it started): restart it with "
                    "`nepse server stop` and `nepse server start`"
                )
            sock.settimeout(None)
            self._out = sock.makefile("w", encoding="utf-8", newline="\n")
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self.service_pid = hello.get("pid")
        self.service_log = hello.get("log")

    def _read(self) -> None:
        try:
            for line in self._in:
                try:
                    self._replies.put(json.loads(line))
                except ValueError:  # not a reply: the process's own writes go to stderr, still
                    log.warning("Evidently side process wrote a non-reply line: %r", line[:200])
        except OSError as exc:  # the service's connection broke
            log.warning("Evidently service connection lost: %s", exc)
        self._ended.set()
        self._replies.put(None)  # end of output: the process has exited

    @property
    def warm(self) -> bool:
        """Is this a connection to the (already warm) Evidently service?"""
        return self._sock is not None

    @property
    def pid(self) -> int:
        """The side process's (or the service's) id."""
        if self._proc is not None:
            return self._proc.pid
        return int(self.service_pid or 0)

    @property
    def pending(self) -> int:
        """How many submitted requests have no reply yet."""
        return len(self._pending)

    @property
    def alive(self) -> bool:
        """Is the process still running (the service's connection still open)?"""
        if self._proc is not None:
            return self._proc.poll() is None
        return not self._ended.is_set()

    def describe(self) -> str:
        """For the logs: which process renders, and what its import cost."""
        if self.warm:
            return f"the Evidently service (pid {self.service_pid}, warm: no import)"
        return f"the Evidently side process (its import took {self.ready_s or '?'} s)"

    def submit(self, op: str, label: str, **args: Any) -> None:
        """Queue request `op` (a name in OPS) without waiting; `label` names it in errors."""
        with self._lock:
            self._next += 1
            request = {"id": self._next, "op": op, "args": args}
            try:
                self._out.write(json.dumps(request, default=str) + "\n")
                self._out.flush()
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
                    self._abandon()
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

    def _abandon(self) -> None:
        """Give up on a process (or connection) that does not answer."""
        if self._proc is not None:
            self._proc.kill()
        elif self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def _stderr(self, chars: int = 2000) -> str:
        if self._err is None:  # the service: its log is a file of its own
            return f"see the Evidently service's log {self.service_log}: " + _tail(
                self.service_log, chars
            )
        self._err.flush()
        self._err.seek(0)
        text = self._err.read().decode("utf-8", "replace").strip()
        return text[-chars:] or "(no output)"

    def close(self, timeout_s: float = 10.0) -> None:
        """End the process (end of input) and wait for it, so its CPU counts to this one; for
        the service, end this run's connection (the service goes on)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._out.close()
                self._sock.shutdown(socket.SHUT_WR)
            self._reader.join(timeout_s)
            self._sock.close()
            return
        assert self._proc is not None and self._err is not None
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


def _tail(path: str | None, chars: int) -> str:
    try:
        with open(path or "", "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - chars))
            return f.read().decode("utf-8", "replace").strip() or "(empty)"
    except OSError as exc:
        return f"(unreadable: {exc})"


_current: EvidentlySide | None = None
_dead: list[EvidentlySide] = []  # replaced after dying with requests pending: finish_all reports
_current_lock = threading.Lock()


def start() -> EvidentlySide:
    """This process's side process: the running one, else a connection to the Evidently
    service named by NEPSE_EVIDENTLY_SERVICE, else a new process (each ended at exit)."""
    global _current
    with _current_lock:
        if _current is None or not _current.alive:
            if _current is not None and _current.pending:
                _dead.append(_current)
            _current = _new_side()
            atexit.register(_current.close)
        return _current


def _new_side() -> EvidentlySide:
    service = os.environ.get(SERVICE_ENV)
    if service:
        try:
            return EvidentlySide(service)
        except (OSError, ValueError, SideProcessError) as exc:
            log.warning("Evidently service not used, starting a side process instead: %s", exc)
    return EvidentlySide()


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
