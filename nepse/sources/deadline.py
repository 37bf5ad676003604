"""An overall deadline per HTTP request: a server that trickles its answer cannot hang a run.

httpx's read timeout bounds each read from the socket, not the request: a server that sends a
byte a second never trips it, and a one-day backfill once waited 191 s. `DeadlineTransport`
wraps a transport so that each request, its whole answer read, must finish within the deadline
(`NEPSE_API_DEADLINE_S`); past it the connection is closed and a `TransientSourceError` says so
(Prefect retries it). The request runs in a worker thread that the caller stops waiting for; the
closed connection ends that thread at its next read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import httpx

from nepse.errors import TransientSourceError

T = TypeVar("T")


def within(seconds: float, call: Callable[[], T], *, cancel: Callable[[], None], what: str) -> T:
    """`call()`'s result, or TransientSourceError (after `cancel()`) when it takes longer."""
    done: dict[str, object] = {}

    def run() -> None:
        try:
            done["value"] = call()
        except BaseException as exc:  # handed to the caller's thread below
            done["error"] = exc

    worker = threading.Thread(target=run, name="nepse-http-deadline", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        cancel()
        raise TransientSourceError(
            f"{what}: no complete answer within {seconds:g} s (NEPSE_API_DEADLINE_S): the "
            "server answers too slowly (it may be sending a byte at a time); the connection "
            "was closed, retry later"
        )
    if "error" in done:
        raise done["error"]  # type: ignore[misc]
    return done["value"]  # type: ignore[return-value]


class DeadlineTransport(httpx.BaseTransport):
    """A transport whose every request, answer read whole, finishes within `seconds`."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float) -> None:
        self._inner = inner
        self.seconds = seconds

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        def call() -> httpx.Response:
            response = self._inner.handle_request(request)
            try:
                response.read()  # the body too, inside the deadline
            except BaseException:
                response.close()
                raise
            return response

        where = f"{request.method} {request.url}"
        return within(self.seconds, call, cancel=self._inner.close, what=where)

    def close(self) -> None:
        self._inner.close()
