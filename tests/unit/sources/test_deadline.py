"""An answer trickling a byte at a time ends at the request's deadline, as a transient error."""

from __future__ import annotations

import threading
import time

import pytest

from nepse.errors import TransientSourceError
from nepse.sources.deadline import within

# The sources against trickling fakes: tests/unit/sources/test_api.py and test_exchange.py.


def test_within_returns_the_result_or_raises_its_error():
    assert within(1.0, lambda: 42, cancel=lambda: None, what="x") == 42
    with pytest.raises(KeyError):
        within(1.0, lambda: {}["missing"], cancel=lambda: None, what="x")


def test_within_gives_up_at_the_deadline_and_cancels():
    cancelled = threading.Event()
    t0 = time.monotonic()
    with pytest.raises(TransientSourceError, match=r"GET x: no complete answer within 0\.2 s"):
        within(0.2, lambda: cancelled.wait(5), cancel=cancelled.set, what="GET x")
    assert cancelled.is_set()
    assert time.monotonic() - t0 < 4  # not the 5 s the call would have taken
