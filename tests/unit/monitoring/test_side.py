"""The Evidently side process: requests answered in order, failures reported, death noticed."""

from __future__ import annotations

import os
import signal

import pytest

from nepse.monitoring import side
from nepse.monitoring.side import EvidentlySide, SideProcessError


def _submit_a_page_without_files(pages: EvidentlySide, tmp_path, day: str) -> None:
    """A drift-page request (label "page") whose model folder and window do not exist."""
    pages.submit(
        "drift_page",
        "page",
        baseline_dir=str(tmp_path / "no-model"),
        current=str(tmp_path / "no-window.parquet"),
        columns=["ret_5"],
        day=day,
        out_html=str(tmp_path / "page.html"),
        banner="",
        workspace_dir=None,
    )


def test_a_failed_request_is_reported_and_the_next_is_served(tmp_path):
    pages = EvidentlySide()
    try:
        _submit_a_page_without_files(pages, tmp_path, "2026-01-02")
        pages.submit(
            "numbers_run",
            "numbers",
            numbers={"feature_drift": 0.12, "feature_drift_line": 0.2},
            day="2026-01-02",
            workspace_dir=str(tmp_path),
        )
        failed = pages.finish(timeout_s=120)
        assert list(failed) == ["page"] and "no-model has no manifest.json" in failed["page"]
        assert pages.ready_s is not None and pages.ready_s > 0
        assert len(list((tmp_path / "evidently").glob("*/snapshots/*.json"))) == 1
        assert pages.pending == 0 and pages.alive
    finally:
        pages.close()
    assert not pages.alive


def test_a_dead_process_fails_what_it_had_pending_and_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(side, "_current", None)
    first = side.start()
    assert side.start() is first
    first.submit("numbers_run", "numbers", numbers={}, day="2026-01-02", workspace_dir="x")
    os.kill(first.pid, signal.SIGKILL)
    first._proc.wait()
    with pytest.raises(SideProcessError, match="gone"):
        first.submit("numbers_run", "again", numbers={}, day="2026-01-02", workspace_dir="x")
    second = side.start()
    assert second is not first and second.alive
    failed = side.finish_all(timeout_s=60)
    assert list(failed) == ["numbers"] and "exited" in failed["numbers"]
    second.close()


def test_a_side_process_that_cannot_start_does_not_stop_the_run(monkeypatch, caplog):
    def no_processes(*args, **kwargs):
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(side, "_current", None)
    monkeypatch.setattr(side.subprocess, "Popen", no_processes)
    side.prestart()  # the run goes on to score; the drift step will try again
    assert "not started ahead" in caplog.text and side.running() is None
    with pytest.raises(OSError, match="resource temporarily unavailable"):
        side.start()


@pytest.fixture
def service(tmp_path):
    """A running Evidently service on a socket in tmp_path (the `nepse server start` one)."""
    import subprocess
    import sys
    import time

    sock = tmp_path / "ev.sock"
    log = tmp_path / "ev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nepse.monitoring.side_serve", "--listen", str(sock), str(log)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 30
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    yield proc, str(sock), log
    if proc.poll() is None:
        proc.terminate()  # SIGTERM ends it, even while it still imports Evidently
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise


def test_the_service_serves_one_run_after_another_warm(service, tmp_path, monkeypatch):
    proc, sock, _ = service
    monkeypatch.setattr(side, "_current", None)
    monkeypatch.setenv(side.SERVICE_ENV, sock)
    first = side.start()
    assert first.warm and first.pid == proc.pid
    first.submit(
        "numbers_run",
        "day 1",
        numbers={"feature_drift": 0.1},
        day="2026-01-02",
        workspace_dir=str(tmp_path),
    )
    assert side.finish_all(timeout_s=120) == {}
    assert first.ready_s is not None and first.ready_s > 0  # the service's one import
    first.close()
    assert proc.poll() is None  # a run's end closes its connection, not the service

    second = EvidentlySide(sock)  # the next run: served at once, nothing imported again
    second.submit(
        "numbers_run",
        "day 2",
        numbers={"feature_drift": 0.2},
        day="2026-01-05",
        workspace_dir=str(tmp_path),
    )
    _submit_a_page_without_files(second, tmp_path, "2026-01-05")
    failed = second.finish(timeout_s=60)
    assert list(failed) == ["page"] and "no-model has no manifest.json" in failed["page"]
    assert "warm" in second.describe()
    second.close()
    assert len(list((tmp_path / "evidently").glob("*/snapshots/*.json"))) == 2
    proc.terminate()
    proc.wait(timeout=30)
    assert not (tmp_path / "ev.sock").exists()  # SIGTERM removes its socket


def test_a_service_running_other_code_is_not_used(service, monkeypatch, caplog):
    _, sock, _ = service
    monkeypatch.setattr(side, "_current", None)
    monkeypatch.setenv(side.SERVICE_ENV, sock)
    monkeypatch.setattr(side, "code_fingerprint", lambda: "edited-since")
    with pytest.raises(side.StaleServiceError, match="restart it"):
        EvidentlySide(sock)
    pages = side.start()  # the run goes on with its own side process
    assert not pages.warm and "runs other code" in caplog.text
    pages.close()


def test_a_dead_service_fails_what_it_had_pending_and_the_run_falls_back(
    service, tmp_path, monkeypatch
):
    proc, sock, log = service
    monkeypatch.setattr(side, "_current", None)
    monkeypatch.setenv(side.SERVICE_ENV, sock)
    pages = side.start()
    assert pages.warm
    pages.submit("numbers_run", "numbers", numbers={}, day="2026-01-02", workspace_dir="x")
    proc.kill()  # SIGKILL: its socket file stays behind, nobody listens
    proc.wait()
    failed = side.finish_all(timeout_s=60)
    assert list(failed) == ["numbers"] and "exited" in failed["numbers"]
    assert str(log) in failed["numbers"]  # where to look
    assert not pages.alive
    again = side.start()  # refused by the stale socket: a side process of its own
    assert not again.warm and again.alive
    again.close()


def test_sigterm_ends_the_service_while_it_imports(service):
    proc, sock, _ = service
    proc.terminate()  # at once: Evidently's import (2-4 s) has not finished
    assert proc.wait(timeout=30) == 0
    assert not os.path.exists(sock)


def test_two_runs_at_once_are_both_served(service, tmp_path):
    _, sock, _ = service
    runs = [EvidentlySide(sock), EvidentlySide(sock)]
    for k, pages in enumerate(runs):
        for day in ("2026-01-05", "2026-01-06"):
            pages.submit(
                "numbers_run",
                f"run {k} {day}",
                numbers={"feature_drift": 0.1 * k},
                day=day,
                workspace_dir=str(tmp_path / f"ws{k}"),
            )
    assert [pages.finish(timeout_s=120) for pages in runs] == [{}, {}]
    for k, pages in enumerate(runs):
        pages.close()
        assert len(list((tmp_path / f"ws{k}" / "evidently").glob("*/snapshots/*.json"))) == 2
