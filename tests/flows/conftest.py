"""Fixtures of the flow tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def emitted(monkeypatch):
    """The Prefect events the run emits, recorded by Prefect's own asserting events client.

    Returns a function: `emitted("nepse.alert.")` drains the events worker (once, after the
    run) and lists the events whose name starts with the prefix.
    """
    from prefect.events.clients import AssertingEventsClient
    from prefect.events.worker import EventsWorker

    AssertingEventsClient.reset()
    worker = EventsWorker.instance(AssertingEventsClient)
    monkeypatch.setattr(EventsWorker, "instance", lambda *_: worker)

    def events(prefix: str):
        worker.drain()
        return [
            e for c in AssertingEventsClient.all for e in c.events if e.event.startswith(prefix)
        ]

    yield events
    worker.drain()
