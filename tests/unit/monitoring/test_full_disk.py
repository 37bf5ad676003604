"""A real full disk (a small tmpfs) under the day's Evidently page, workspace run and index.

The tmpfs is mounted in a user and mount namespace of its own (`unshare -rm`), so the test needs
no root where unprivileged user namespaces are allowed; it skips with the reason elsewhere. The
simulated-ENOSPC tests (test_workspace.py, test_reports.py) run everywhere; this one checks the
same behaviour against the errors a real filesystem gives (Evidently's own writes included).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from nepse.monitoring.baseline import check
from nepse.monitoring.page import day_snapshot
from tests.unit.monitoring.conftest import window_of

pytestmark = pytest.mark.slow

SCRIPT = r"""
import json, os, sys
from datetime import date
from pathlib import Path
from evidently.ui.workspace import Workspace
from evidently.core.report import Snapshot
from nepse.monitoring.files import write_text_atomic
from nepse.monitoring.page import page_html
from nepse.monitoring.reports import build_index, drift_report_path
from nepse.monitoring.workspace import WORKSPACE_DIR, open_workspace, put_day_run

data, snaps = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
(d1, s1), (d2, s2) = [(date.fromisoformat(d), Snapshot.loads(s)) for d, s in snaps]
out = {}

def day(d, s):
    page = drift_report_path(data, d, "v1")
    write_text_atomic(page, page_html(s))
    run = put_day_run(open_workspace(data), data, s, day=d, model_version="v1")
    build_index(data, [{"date": d, "model_version": "v1"}])
    return run

out["first"] = day(d1, s1)
page1 = drift_report_path(data, d1, "v1").read_bytes()
filler = data / "filler"
with open(filler, "wb") as f:  # fill the disk, then leave 64 KiB: less than a page or a run
    try:
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    except OSError:
        pass
os.truncate(filler, max(0, filler.stat().st_size - 65536))
errors = []
for step in (
    lambda: write_text_atomic(drift_report_path(data, d1, "v1"), page_html(s1)),
    lambda: put_day_run(open_workspace(data), data, s1, day=d1, model_version="v1"),
):
    try:
        step()
        errors.append(None)
    except OSError as exc:
        errors.append(str(exc))
out["errors"] = errors
ws = Workspace(str(data / WORKSPACE_DIR))  # Evidently's own reader opens it
project = ws.search_project("NEPSE daily monitoring")[0]
out["runs_while_full"] = sorted(map(str, ws.list_runs(project.id)))
out["page_kept"] = drift_report_path(data, d1, "v1").read_bytes() == page1
out["stray"] = [p.name for p in data.rglob("*.tmp")]
filler.unlink()  # space freed: the next day works
out["second"] = day(d2, s2)
ws = Workspace(str(data / WORKSPACE_DIR))
out["runs_after"] = sorted(map(str, ws.list_runs(project.id)))
print("RESULT:" + json.dumps(out))
"""


def _unshare_works() -> str | None:
    """None when `unshare -rm` can mount a tmpfs here, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare command"
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt 2>&1 || exit 3"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a user namespace: {probe.stdout or probe.stderr}".strip()
    return None


def test_a_real_full_disk_fails_the_day_and_leaves_yesterday_whole(tmp_path, market, baseline):
    why = _unshare_works()
    if why:
        pytest.skip(why)
    feat, days = market
    snaps = []
    for end in (len(days) - 2, len(days) - 1):
        window = window_of(feat, days, end)
        snap = day_snapshot(
            baseline, window, check(baseline, window), day=days[end], model_version="v1"
        )
        snaps.append((str(days[end]), snap.dumps()))
    (tmp_path / "snaps.json").write_text(json.dumps(snaps))
    data = tmp_path / "data"
    data.mkdir()
    script = tmp_path / "full.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [
            "unshare",
            "-rm",
            "sh",
            "-c",
            'mount -t tmpfs -o size=12m tmpfs "$1" && exec "$2" "$3" "$1" "$4"',
            "_",
            str(data),
            sys.executable,
            str(script),
            str(tmp_path / "snaps.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT:")), None)
    assert line, done.stdout[-2000:] + done.stderr[-3000:]
    out = json.loads(line[len("RESULT:") :])
    page_error, run_error = out["errors"]
    assert page_error and "no space left on device" in page_error and "drift-v1.html" in page_error
    assert run_error and "no space left on device" in run_error and "evidently" in run_error
    assert out["runs_while_full"] == [out["first"]]  # no half-written run left behind
    assert out["page_kept"] and out["stray"] == []
    assert out["runs_after"] == sorted([out["first"], out["second"]])
