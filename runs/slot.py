"""The writer slot: one run at a time uses the database.

DuckDB lets one process hold the database file while it writes, and no
other process may open it meanwhile. Every run therefore takes the one slot of the Prefect
global concurrency limit `nepse-writer` while it touches the database (`writer_slot`): the
daily run for its whole length, a training run while it builds its panel and while it
registers, a backfill once per chunk of days (`chunk_days`). The slot is leased (`LEASE_S`):
a run that dies holding it (a killed worker, a killed CLI) stops renewing the lease and the
server frees the slot when it expires. A run waiting for the slot says so in its logs and stays
Running (never Late); after `NEPSE_WRITER_WAIT_S` it fails naming the slot. A process outside
Prefect holding the file (a notebook) is waited for `NEPSE_LOCK_TIMEOUT_S` by the store itself,
whose error names its PID.

Take it in the flow's body where a flow can (the daily run, training, the backfill's chunks):
measured with Prefect 3.9.1, a leased `concurrency()` taken again from inside a task run is
answered after 1.8-2.4 s even with the slot free (`active_slots` 0), the same call from the
flow body in 0.04 s (PrefectHQ/prefect#15618). The tasks' own `holds_writer_slot` then passes
(re-entrant), and still guards a task run on its own.

Without a Prefect server (a CLI command on Prefect's temporary server, which serves that
process alone) there is nobody to share a slot with: the store's lock wait is the only guard.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from nepse.app import DatabaseLockedError
from runs.settings import has_server, logger, settings

WRITER_SLOT = "nepse-writer"
"""The Prefect global concurrency limit (limit 1) every run takes to touch the database."""
LEASE_S = 60.0
"""Lease of a held slot (Prefect's shortest); renewed every 45 s while the holder lives, so a
dead holder's slot is free again within about a minute plus the server's 15 s sweep."""
WAIT_NOTICE_S = 1.0
"""A run says it waits for the slot once it has waited this long."""

_holding: contextvars.ContextVar[bool] = contextvars.ContextVar("nepse_writer_slot", default=False)
F = TypeVar("F", bound=Callable[..., Any])


def _create_slot() -> None:
    """Create the limit (1 slot) on the server; another run may have just done it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client, contextlib.suppress(ObjectAlreadyExists):
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=WRITER_SLOT, limit=1)
        )


@contextlib.contextmanager
def _leased_slot(wait_s: float) -> Iterator[None]:
    """Prefect's leased `concurrency` on the writer slot, the limit created on first use."""
    from prefect.concurrency.asyncio import ConcurrencySlotAcquisitionError
    from prefect.concurrency.sync import concurrency

    def slot():
        return concurrency(
            WRITER_SLOT,
            occupy=1,
            timeout_seconds=wait_s,
            lease_duration=LEASE_S,
            strict=True,  # a missing limit must not mean "no limit"
            raise_on_lease_renewal_failure=False,
        )

    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(slot())
        except ConcurrencySlotAcquisitionError:  # the limit does not exist yet
            _create_slot()
            stack.enter_context(slot())
        yield


@contextlib.contextmanager
def writer_slot(what: str) -> Iterator[None]:
    """Hold the writer slot for `what` (re-entrant: a subflow or task of a holder passes)."""
    if _holding.get() or not has_server():
        yield
        return
    stop_with_worker()
    log = logger()
    wait_s = settings().writer_wait_s
    t0 = time.perf_counter()
    # Said while it waits (the run stays Running): only when the slot is not free at once.
    waiting = threading.Timer(
        WAIT_NOTICE_S,
        lambda: log.info(
            "waiting for the writer slot %r to %s: another run is using the database (Prefect "
            "UI: Concurrency; `prefect gcl inspect %s`); giving up after %.0f s "
            "(NEPSE_WRITER_WAIT_S)",
            WRITER_SLOT,
            what,
            WRITER_SLOT,
            wait_s,
        ),
    )
    waiting.daemon = True
    waiting.start()
    acquired = False
    try:
        with _leased_slot(wait_s):
            waiting.cancel()
            acquired, token = True, _holding.set(True)
            if time.perf_counter() - t0 > WAIT_NOTICE_S:
                log.info("writer slot %r taken after %.1f s", WRITER_SLOT, time.perf_counter() - t0)
            try:
                yield
            finally:
                _holding.reset(token)
    except TimeoutError as exc:
        if acquired:  # the holder's own work timed out: not ours to explain
            raise
        raise DatabaseLockedError(
            f"the writer slot {WRITER_SLOT!r} was still held by another run after {wait_s:.0f} s "
            f"(NEPSE_WRITER_WAIT_S): see which run holds it on the Prefect UI's Concurrency "
            f"page or with `prefect gcl inspect {WRITER_SLOT}`; let it finish or cancel it"
        ) from exc
    finally:
        waiting.cancel()


_watching = threading.Event()


def stop_with_worker(poll_s: float = 2.0, grace_s: float = 30.0) -> None:
    """In a flow run a worker started, end this process when that worker dies.

    A worker's flow runs live in their own session: killed with SIGKILL (the OOM killer,
    `kill -9`), the worker leaves its run orphaned, and measured with Prefect 3.9.1 the orphan
    hung and went on sending heartbeats and renewing its writer-slot lease: Running forever,
    the slot held forever, out of reach of the zombie automation. Once the parent is gone this
    sends the run's process group SIGTERM (Prefect ends the run Crashed, releasing the slot),
    and exits after `grace_s` if that did not end it (its heartbeats stop: the zombie
    automation crashes the run and the lease expires). CLI runs are left alone.
    """
    if not os.environ.get("PREFECT__FLOW_RUN_ID") or _watching.is_set():
        return
    _watching.set()
    parent, log = os.getppid(), logger()  # the run's logger: the line reaches the run's logs

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(poll_s)
        log.error(
            "the worker that started this flow run (pid %d) is gone: stopping the run", parent
        )
        pid = os.getpid()
        if os.getpgid(0) == pid:  # it leads its own group (Prefect's own session for a run):
            os.killpg(pid, signal.SIGTERM)  # its children too, as a stopping worker would
        else:
            os.kill(pid, signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(70)

    threading.Thread(target=watch, name="nepse-stop-with-worker", daemon=True).start()


def holds_writer_slot(fn: F) -> F:
    """Run `fn` inside `writer_slot` (put it under `@task`, so the wait is in the task's logs)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with writer_slot(fn.__name__.replace("_", " ")):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
