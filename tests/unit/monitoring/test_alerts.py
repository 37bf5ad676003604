"""Alerts as values, and a webhook receiver on 127.0.0.1 that the flow and e2e tests use."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nepse.monitoring.alerts import Alert


class Receiver:
    """A webhook receiver on 127.0.0.1 that records what it is sent."""

    def __init__(self, status: int = 200) -> None:
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(length)))
                outer.paths.append(self.path)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/s3cr3t-token"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_an_alert_has_a_known_kind_and_level():
    alert = Alert("stale-data", "stale data", "no prices for 2026-11-20", "error")
    assert alert.kind == "stale-data" and alert.day is None and alert.numbers == {}
    with pytest.raises(ValueError, match="unknown alert kind"):
        Alert("stale", "stale data", "x")
    with pytest.raises(ValueError, match="unknown alert level"):
        Alert("drift", "drift alarm", "x", "fatal")
