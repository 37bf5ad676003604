"""Live-data fault scenarios, defined once: tests/flows/test_live.py and scripts/reliability.py
both run this table against the fake NEPSE API (nepse/devdata/fake_api.py).

A transient fault must be absorbed by retries (`attempts` = task runs until success); a permanent
one must fail the run at once with `message` in the error and leave the database unchanged.
`faults` are `FakeNepseApi.set_faults` arguments; None means the one-off dropped connection that
the runner installs itself (the fake's own `drop_connection` applies to every request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

READ_TIMEOUT_S = 0.5
"""The read timeout both runners set (NEPSE_API_READ_TIMEOUT_S), so `slow` exceeds it."""
DEADLINE_S = 2.0
"""The per-request deadline both runners set (NEPSE_API_DEADLINE_S), so `trickle` exceeds it."""


@dataclass(frozen=True)
class Fault:
    """One fault of the live API and what the service must do about it."""

    id: str
    description: str
    faults: dict[str, Any] | None
    did: str
    """What the service does, in words, for docs/reliability.md."""
    attempts: int = 1
    """Transient: task runs until the day is stored (1 + retries)."""
    message: str = ""
    """Permanent: text the error must contain."""

    @property
    def transient(self) -> bool:
        """True when retries must absorb the fault."""
        return not self.message


RETRIED = "TransientSourceError; Prefect retries (backoff + jitter)"

TRANSIENT: tuple[Fault, ...] = (
    Fault("500x2", "HTTP 500 twice", {"fail_times": 2, "fail_status": 500}, RETRIED, attempts=3),
    Fault(
        "503x3", "HTTP 503 three times", {"fail_times": 3, "fail_status": 503}, RETRIED, attempts=4
    ),
    Fault(
        "429-retry-after",
        "HTTP 429 with Retry-After: 0.6",
        {"fail_times": 1, "fail_status": 429, "retry_after": "0.6"},
        "waits max(backoff, Retry-After), then retries",
        attempts=2,
    ),
    Fault(
        "slow-answer",
        f"answer slower than the {READ_TIMEOUT_S} s read timeout (once)",
        {"delay_s": 2.0, "delay_times": 1},
        "ReadTimeout -> TransientSourceError; retried",
        attempts=2,
    ),
    Fault(
        "trickle",
        "answer trickled a byte every 0.05 s, each read inside the read timeout (once)",
        {"trickle_s": 0.05, "delay_times": 1},
        f"overall deadline ({DEADLINE_S:g} s) -> TransientSourceError; retried",
        attempts=2,
    ),
    Fault(
        "dropped-page-1",
        "connection closed without an answer on page 1 (once)",
        None,
        "RemoteProtocolError -> TransientSourceError; retried",
        attempts=2,
    ),
)

PERMANENT: tuple[Fault, ...] = (
    Fault(
        "401",
        "HTTP 401",
        {"fail_times": -1, "fail_status": 401},
        "SourceError; no retry",
        message="check NEPSE_API_TOKEN",
    ),
    Fault(
        "404",
        "HTTP 404",
        {"fail_times": -1, "fail_status": 404},
        "SourceError; no retry",
        message="check NEPSE_API_BASE_URL",
    ),
    Fault(
        "truncated-json",
        "truncated JSON body",
        {"truncate": True},
        "SourceError, raw page kept; no retry",
        message="not valid JSON",
    ),
    Fault(
        "changed-item-schema",
        "changed schema (closePrice renamed ltp)",
        {"rename_fields": {"closePrice": "ltp"}},
        "SourceError naming the missing field; no retry",
        message="API schema changed",
    ),
    Fault(
        "changed-page-schema",
        "changed page schema (content renamed data)",
        {"rename_page_fields": {"content": "data"}},
        "SourceError naming the missing key; no retry",
        message="API schema changed",
    ),
)
