"""The day's Evidently runs: the HTML page with the verdict, and the workspace over time."""

from __future__ import annotations

from evidently.ui.workspace import Workspace

from nepse.monitoring.baseline import check
from nepse.monitoring.workspace import (
    NUMBERS,
    PANELS,
    PROJECT,
    WORKSPACE_DIR,
    add_to_workspace,
    drift_snapshot,
    numbers_of,
    numbers_snapshot,
    verdict_banner,
    write_page,
)
from tests.unit.monitoring.conftest import window_of


def test_page_carries_the_verdict_and_workspace_keeps_every_day(tmp_path, market, baseline):
    feat, days = market
    for end in (len(days) - 2, len(days) - 1):
        cur = window_of(feat, days, end)
        verdict = check(baseline, cur)
        snap = drift_snapshot(baseline, cur, verdict.top_columns(4), days[end])
        page = write_page(snap, verdict_banner(verdict, baseline), tmp_path / f"{end}.html")
        text = page.read_text(encoding="utf-8")
        assert "nepse-verdict" in text and "feature drift" in text and "alarm line" in text
        numbers = numbers_of(verdict, rolling_rank_ic=0.05, rank_ic_floor=-0.01)
        assert set(numbers) == set(NUMBERS)
        add_to_workspace(tmp_path, snap, numbers_snapshot(numbers, days[end]))
    ws = Workspace(str(tmp_path / WORKSPACE_DIR))
    projects = ws.search_project(PROJECT)
    assert len(projects) == 1  # the second day found the project instead of making another
    assert len(ws.list_runs(projects[0].id)) == 4
    panels = [p.title for p in ws.get_dashboard(projects[0].id).panels]
    assert panels == [title for title, _ in PANELS]


def test_adding_a_run_does_not_read_the_stored_runs(tmp_path, market, baseline):
    """Evidently's full Workspace parses every stored run when it opens (a cost that grew with
    each day, and one broken file stopped every later day); adding a run reads none of them."""
    feat, days = market
    cur = window_of(feat, days, len(days) - 1)
    verdict = check(baseline, cur)
    numbers = numbers_of(verdict)
    project_id = add_to_workspace(tmp_path, numbers_snapshot(numbers, days[-1]))
    runs = tmp_path / WORKSPACE_DIR / project_id / "snapshots"
    broken = runs / "01a2341b-1bf1-74dc-829e-eeec0637c1bd.json"
    broken.write_text("{not json", encoding="utf-8")  # a run cut short by a full disk, say
    add_to_workspace(tmp_path, numbers_snapshot(numbers, days[-1]))
    assert len(list(runs.glob("*.json"))) == 3
