"""`nepse reports ui` serves Evidently's UI read-only: its write API refuses, reads work."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from flows.cli.reports_ui import start_ui
from nepse.monitoring.workspace import PROJECT, WORKSPACE_DIR, open_project, open_workspace

pytestmark = pytest.mark.slow  # Evidently's UI takes 5-20 s to start


def _call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture
def ui(tmp_path):
    """A workspace with the monitoring project, and `start_ui` serving it on a free port."""
    project = open_project(open_workspace(tmp_path), tmp_path / WORKSPACE_DIR)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = (tmp_path / "ui.log").open("w")
    proc = start_ui(tmp_path / WORKSPACE_DIR, "127.0.0.1", port, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/api/projects"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((tmp_path / "ui.log").read_text()) from None
                time.sleep(0.5)
        yield url, str(project.id), tmp_path / WORKSPACE_DIR
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def test_the_write_api_refuses_and_the_project_survives(ui):
    url, project_id, workspace = ui
    folders = sorted(p.name for p in workspace.iterdir())
    assert _call(f"{url}/{project_id}", "DELETE")[0] == 403
    assert _call(f"{url.replace('/api/', '/api/v2/')}/{project_id}", "DELETE")[0] == 403
    assert _call(url, "POST", json.dumps({"name": "intruder"}).encode())[0] in (400, 403)
    assert _call(f"{url}/{project_id}/info", "POST", b"{}")[0] in (400, 403)
    code, body = _call(url)
    assert code == 200
    assert [p["name"] for p in json.loads(body)] == [PROJECT]
    assert sorted(p.name for p in workspace.iterdir()) == folders


def test_the_dashboard_query_still_reads(ui):
    url, project_id, _ = ui
    batch = f"{url.replace('/api/projects', '/api/v2/snapshots')}/{project_id}/data_series_batch"
    code, body = _call(batch, "POST", b'{"series_filter": []}')
    assert code in (200, 201), body  # a read sent as POST: Evidently's dashboards need it
    assert "series" in json.loads(body)
