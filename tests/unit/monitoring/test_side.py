"""The Evidently side process: requests answered in order, failures reported, death noticed."""

from __future__ import annotations

import os
import signal

import pytest

from nepse.monitoring import side
from nepse.monitoring.side import EvidentlySide, SideProcessError

pytestmark = pytest.mark.slow  # every test starts Evidently side processes (tests/conftest.py)


def _submit_a_page_without_files(pages: EvidentlySide, tmp_path, day: str) -> None:
    """A drift-page request (label "page") whose model folder and window do not exist."""
    pages.submit(
        "drift_page",
        "page",
        baseline_dir=str(tmp_path / "no-model"),
        current=str(tmp_path / "no-window.parquet"),
        summary={},
        day=day,
        model_version="v1",
        columns=8,
        rank_ic=None,
        out_html=str(tmp_path / "page.html"),
    )


def test_a_failed_request_is_reported_and_the_next_is_served(tmp_path):
    pages = EvidentlySide()
    try:
        _submit_a_page_without_files(pages, tmp_path, "2026-01-02")
        pages.submit(
            "workspace_run",
            "run",
            out_html=str(tmp_path / "page.html"),
            data_dir=str(tmp_path),
            day="2026-01-02",
            model_version="v1",
            keep_days=0,
        )
        pages.submit("open_workspace", "open", data_dir=str(tmp_path))
        failed = pages.finish(timeout_s=120)
        assert set(failed) == {"page", "run"}
        assert "ModelNotFoundError" in failed["page"] and "its page failed" in failed["run"]
        assert pages.ready_s is not None and pages.ready_s > 0
        assert (tmp_path / "evidently").is_dir()  # the request after the failures was served
        assert pages.pending == 0 and pages.alive
    finally:
        pages.close()
    assert not pages.alive


def test_a_dead_process_fails_what_it_had_pending_and_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(side, "_current", None)
    first = side.start()
    assert side.start() is first
    first.submit("open_workspace", "open", data_dir=str(tmp_path))
    os.kill(first.pid, signal.SIGKILL)
    first._proc.wait()
    with pytest.raises(SideProcessError, match="gone"):
        first.submit("open_workspace", "again", data_dir=str(tmp_path))
    second = side.start()
    assert second is not first and second.alive
    failed = side.finish_all(timeout_s=60)
    assert list(failed) == ["open"] and "exited" in failed["open"]
    second.close()


def test_a_side_process_that_cannot_start_does_not_stop_the_run(monkeypatch, caplog):
    def no_processes(*args, **kwargs):
        raise OSError("fork: resource temporarily unavailable")

    monkeypatch.setattr(side, "_current", None)
    monkeypatch.setattr(side.subprocess, "Popen", no_processes)
    side.prestart()  # the run goes on to score; the publish step will try again
    assert "not started ahead" in caplog.text and side.running() is None
    with pytest.raises(OSError, match="resource temporarily unavailable"):
        side.start()
