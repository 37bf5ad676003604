"""Alert delivery through a Prefect notification block, against a real local HTTP receiver."""

from __future__ import annotations

import json
import logging
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


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


def test_alert_payload_is_slack_shaped():
    body = Alert("stale data", "no prices for 2026-11-20", "error").payload()
    assert "stale data" in body["text"] and "2026-11-20" in body["text"]
    assert body["blocks"][0]["type"] == "section"


# --- delivery through a Prefect notification block (tasks/alerts.py) ----------------------
# Prefect's logging set-up replaces the root handlers that caplog relies on, so these tests
# record with their own handler on the loggers involved.


class Records(logging.Handler):
    """Collects the records of the loggers it is attached to."""

    def __init__(self, *names: str) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.loggers = [logging.getLogger(n) for n in names]

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def text(self) -> str:
        return "\n".join(r.getMessage() for r in self.records)

    def __enter__(self):
        for lg in self.loggers:
            lg.addHandler(self)
            lg.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc):
        for lg in self.loggers:
            lg.removeHandler(self)


def webhook_block(url: str):
    from prefect.blocks.notifications import CustomWebhookNotificationBlock

    return CustomWebhookNotificationBlock(
        name="nepse-test",
        url=url,
        json_data={"text": "{{subject}}\n{{body}}"},
        allow_private_urls=True,  # the test receiver listens on 127.0.0.1
    )


def test_alerts_are_logged_and_delivered_by_a_prefect_block(receiver):
    from tasks.alerts import log_and_deliver

    alerts = [
        Alert("stale data", "newest stored session 2026-03-20", "error"),
        Alert("feature drift", "0.41 beyond the alarm line 0.32"),
    ]
    with Records("test.run", "httpx", "httpcore") as rec:
        assert (
            log_and_deliver(alerts, webhook_block(receiver.url), logging.getLogger("test.run")) == 2
        )
    texts = [b["text"] for b in receiver.bodies]
    assert texts[0] == "NEPSE: stale data\nnewest stored session 2026-03-20"
    assert "0.41 beyond" in texts[1]
    errors = [r for r in rec.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "stale data" in errors[0].getMessage()
    assert "ALERT [warning] feature drift" in rec.text
    # httpx logs every request URL at INFO; the webhook URL is a secret.
    assert "s3cr3t" not in rec.text


def test_a_failing_block_is_logged_without_its_url():
    from tasks.alerts import log_and_deliver

    with Receiver(status=500) as r, Records("t", "httpx") as rec:
        delivered = log_and_deliver([Alert("x", "y")], webhook_block(r.url), logging.getLogger("t"))
    assert delivered == 0
    assert "not delivered (HTTPStatusError)" in rec.text and "s3cr3t" not in rec.text


def test_without_a_block_alerts_are_only_logged():
    from tasks.alerts import log_and_deliver

    with Records("t") as rec:
        assert (
            log_and_deliver([Alert("fallback", "champion missing")], None, logging.getLogger("t"))
            == 0
        )
    assert "fallback" in rec.text
