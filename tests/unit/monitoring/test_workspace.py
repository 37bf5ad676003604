"""The Evidently workspace through its public API: one run per day and model, retention, and
a full disk that leaves nothing half-written."""

from __future__ import annotations

import errno
import json
from datetime import timedelta

import pytest
from evidently.ui.workspace import Workspace

from nepse.errors import NepseError
from nepse.monitoring.baseline import check
from nepse.monitoring.page import day_snapshot
from nepse.monitoring.workspace import (
    PANELS,
    PROJECT,
    RUNS_FILE,
    WORKSPACE_DIR,
    open_workspace,
    put_day_run,
    recorded_runs,
)
from tests.unit.monitoring.conftest import window_of


@pytest.fixture(scope="module")
def snapshots(market, baseline):
    """Evidently runs of the sample market's last three sessions (3 columns each)."""
    feat, days = market
    out = {}
    for end in range(len(days) - 3, len(days)):
        window = window_of(feat, days, end)
        summary = check(baseline, window)
        out[days[end]] = day_snapshot(
            baseline, window, summary, day=days[end], model_version="v1", columns=0
        )
    return out


def _put(tmp_path, snapshot, day, model="v1", keep_days=0):
    return put_day_run(
        open_workspace(tmp_path),
        tmp_path,
        snapshot,
        day=day,
        model_version=model,
        keep_days=keep_days,
    )


def _runs(tmp_path) -> list[str]:
    ws = Workspace(str(tmp_path / WORKSPACE_DIR))
    [project] = ws.search_project(PROJECT)
    return sorted(map(str, ws.list_runs(project.id)))


def test_one_run_per_day_and_model_a_rerun_replaces_it(tmp_path, snapshots):
    (d1, s1), (d2, s2), _ = snapshots.items()
    first = _put(tmp_path, s1, d1)
    _put(tmp_path, s2, d2)
    again = _put(tmp_path, s1, d1)  # the day rerun: its run replaced, not added
    other = _put(tmp_path, s1, d1, model="v2")  # another model's run of the day is its own
    runs = _runs(tmp_path)
    assert len(runs) == 3 and first not in runs and {again, other} <= set(runs)
    assert {(e.day, e.model_version) for e in recorded_runs(tmp_path)} == {
        (d1, "v1"),
        (d2, "v1"),
        (d1, "v2"),
    }
    ws = Workspace(str(tmp_path / WORKSPACE_DIR))  # Evidently's own reader
    [project] = ws.search_project(PROJECT)
    run = ws.get_run(project.id, again)
    assert run.metadata["model_version"] == "v1" and run.metadata["day"] == str(d1)
    titles = [p.title for p in ws.get_dashboard(project.id).panels]
    assert titles[1:] == [title for title, *_ in PANELS]


def test_runs_past_the_retention_are_deleted(tmp_path, snapshots):
    (d1, s1), (d2, s2), (d3, s3) = snapshots.items()
    old = _put(tmp_path, s1, d1 - timedelta(days=40))
    kept = _put(tmp_path, s2, d2 - timedelta(days=10))
    new = _put(tmp_path, s3, d3, keep_days=30)
    assert _runs(tmp_path) == sorted([kept, new]) and old not in _runs(tmp_path)


def test_runs_of_an_older_version_are_recorded_and_replaced(tmp_path, snapshots):
    """Runs written before the run file existed (two a day, no model in their metadata) are read
    once, then replaced by that day's run and expired like the others."""
    (d1, s1), (d2, s2), _ = snapshots.items()
    ws = open_workspace(tmp_path)
    _put(tmp_path, s2, d2)
    [project] = ws.search_project(PROJECT)
    legacy = [str(ws.add_run(project.id, s1).id) for _ in range(2)]  # no run-file entry
    (tmp_path / WORKSPACE_DIR / RUNS_FILE).unlink()
    assert len(_runs(tmp_path)) == 3
    new = _put(tmp_path, s1, d1)
    assert not set(legacy) & set(_runs(tmp_path)) and new in _runs(tmp_path)
    assert len(recorded_runs(tmp_path)) == 2


def test_a_full_disk_leaves_the_workspace_as_it_was(tmp_path, snapshots, monkeypatch):
    """ENOSPC while Evidently writes the run (simulated: json.dump writes half, then fails): the
    half-written file is deleted, the day's earlier run stays, and the next day works."""
    (d1, s1), (d2, s2), _ = snapshots.items()
    before = _put(tmp_path, s1, d1)
    runs_file = (tmp_path / WORKSPACE_DIR / RUNS_FILE).read_text()
    real_dump = json.dump

    def dump_then_full(obj, fp, **kw):
        fp.write(json.dumps(obj, **kw)[:1000])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("evidently.ui.storage.local.base.json.dump", dump_then_full)
    with pytest.raises(OSError, match="no space left on device") as err:
        _put(tmp_path, s1, d1)
    assert str(tmp_path / WORKSPACE_DIR) in str(err.value)
    assert _runs(tmp_path) == [before]  # Evidently's Workspace opens: no broken file
    assert (tmp_path / WORKSPACE_DIR / RUNS_FILE).read_text() == runs_file
    monkeypatch.setattr("evidently.ui.storage.local.base.json.dump", real_dump)
    _put(tmp_path, s2, d2)  # space freed: the next day works
    assert len(_runs(tmp_path)) == 2


def test_a_full_disk_while_creating_the_project_leaves_no_project(tmp_path, snapshots, monkeypatch):
    (d1, s1), *_ = snapshots.items()

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("evidently.ui.storage.local.base.json.dump", full)
    with pytest.raises(OSError, match="could not create the Evidently project"):
        _put(tmp_path, s1, d1)
    monkeypatch.undo()
    assert not [p for p in (tmp_path / WORKSPACE_DIR).iterdir() if p.is_dir()]
    _put(tmp_path, s1, d1)
    assert len(_runs(tmp_path)) == 1


def test_a_broken_run_file_is_named_with_how_to_fix(tmp_path, snapshots):
    (d1, s1), *_ = snapshots.items()
    run = _put(tmp_path, s1, d1)
    [path] = (tmp_path / WORKSPACE_DIR).glob(f"*/snapshots/{run}.json")
    path.write_text("", encoding="utf-8")  # cut short by an older version on a full disk
    with pytest.raises(NepseError, match="move the file named above"):
        open_workspace(tmp_path)


def test_a_dashboard_cut_short_is_rewritten(tmp_path, snapshots):
    (d1, s1), (d2, s2), _ = snapshots.items()
    _put(tmp_path, s1, d1)
    [dash] = (tmp_path / WORKSPACE_DIR).glob("*/dashboard.json")
    dash.write_text("", encoding="utf-8")
    _put(tmp_path, s2, d2)
    ws = Workspace(str(tmp_path / WORKSPACE_DIR))
    [project] = ws.search_project(PROJECT)
    assert len(ws.get_dashboard(project.id).panels) == len(PANELS) + 1
