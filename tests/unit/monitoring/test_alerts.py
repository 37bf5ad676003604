"""The webhook notifier against a real local HTTP receiver."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nepse.monitoring.alerts import Alert, Notifier


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


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def test_alert_is_posted_as_slack_json(receiver):
    sent = Notifier(receiver.url).send(Alert("stale data", "no prices for 2026-11-20", "error"))
    assert sent is True
    assert receiver.paths == ["/services/T000/B000/s3cr3t-token"]
    body = receiver.bodies[0]
    assert "stale data" in body["text"] and "2026-11-20" in body["text"]
    assert body["blocks"][0]["type"] == "section"


def test_webhook_url_never_logged(receiver, caplog):
    caplog.set_level(logging.DEBUG)
    Notifier(receiver.url).send(Alert("drift", "12 of 60 features drifted"))
    failing = Notifier("http://127.0.0.1:9/services/s3cr3t-token")  # nothing listens on port 9
    assert failing.send(Alert("drift", "x")) is False
    assert "s3cr3t" not in caplog.text
    assert "drift" in caplog.text


def test_receiver_error_is_reported_not_raised(caplog):
    with Receiver(status=500) as r:
        assert Notifier(r.url).send(Alert("x", "y")) is False
    assert "HTTP 500" in caplog.text


def test_without_webhook_alert_is_only_logged(caplog):
    caplog.set_level(logging.INFO)
    n = Notifier(None)
    assert not n.configured
    assert n.send(Alert("model fallback", "champion file missing")) is False
    assert "model fallback" in caplog.text
