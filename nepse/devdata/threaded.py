"""What every fake server here shares: a threaded HTTP server on 127.0.0.1 and its lifecycle."""

from __future__ import annotations

import logging
import ssl
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

log = logging.getLogger(__name__)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: Any


class Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fake %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")


class ThreadedFake:
    """Serves `_handle(handler, method)` from a daemon thread; a context manager with `.url`.

    Subclasses set `host`, `port`, `_frames` (date -> frame of the days served) and call
    `_init_serving()` in their constructor.
    """

    host: str
    port: int
    ssl_context: ssl.SSLContext | None = None
    _frames: dict[date, Any]

    def _init_serving(self) -> None:
        self._stop = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def start(self) -> ThreadedFake:
        """Bind and serve in a daemon thread."""
        server = _Server((self.host, self.port), Handler)
        if self.ssl_context is not None:
            server.socket = self.ssl_context.wrap_socket(server.socket, server_side=True)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._stop.clear()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (slow answers in flight are cut short)."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL to give the client."""
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}"

    @property
    def days(self) -> list[date]:
        """The business days served (ascending)."""
        return sorted(self._frames)
