"""The Evidently side process: requests answered in order, failures reported, death noticed."""

from __future__ import annotations

import os
import signal

import pytest

from nepse.monitoring import side
from nepse.monitoring.side import EvidentlySide, SideProcessError


def test_a_failed_request_is_reported_and_the_next_is_served(tmp_path):
    pages = EvidentlySide()
    try:
        pages.submit(
            "drift_page",
            "page",
            baseline_dir=str(tmp_path / "no-model"),
            current=str(tmp_path / "no-window.parquet"),
            columns=["ret_5"],
            day="2026-01-02",
            out_html=str(tmp_path / "page.html"),
            banner="",
            workspace_dir=None,
        )
        pages.submit(
            "numbers_run",
            "numbers",
            numbers={"feature_drift": 0.12, "feature_drift_line": 0.2},
            day="2026-01-02",
            workspace_dir=str(tmp_path),
        )
        failed = pages.finish(timeout_s=120)
        assert list(failed) == ["page"] and "FileNotFoundError" in failed["page"]
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
