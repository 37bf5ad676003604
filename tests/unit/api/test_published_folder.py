"""The published folder: what the writer puts there, and that no reader sees half a day."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.api import folder
from nepse.api.reader import NotPublished, Published
from nepse.app.snapshot import RunRecord, publish_snapshot, record_run
from nepse.errors import NepseError
from nepse.store import open_store
from tests.unit.api.conftest import CARD, VERSION


def _root(scored):
    return folder.published_root(scored.data_dir)


def test_every_scored_day_is_published_with_its_store_rows(scored):
    s = scored.settings()
    published = Published(_root(scored))
    entries = published.entries()
    assert [e.as_of for e in entries] == sorted(scored.days, reverse=True)
    with open_store(s.database, read_only=True) as st:
        for e in entries:
            stored = st.predictions(dates=[e.as_of])
            pub = published.publication(e)
            table = pub.tables["predictions"]
            assert table.height == e.n == stored.height == pub.run["tables"]["predictions"]["rows"]
            assert e.flow_run_id == f"run-{e.as_of.isoformat()}"
            assert table["pred_rank"].is_sorted(descending=True)  # best first
            assert_frame_equal(table.sort("symbol"), stored.sort("symbol"))
            assert pub.run["sessions"][-1] == e.as_of.isoformat()
            assert len(pub.run["sessions"]) == 60


def test_the_drift_row_and_the_registry_are_published(scored):
    published = Published(_root(scored))
    last, first = published.day(), published.day(scored.days[0])
    assert last.drift["verdict"] == "ok" and last.drift["n_drifted"] == 1
    assert last.drift["drifted_columns"] == [{"column": "f_ret_1", "method": "z", "score": 4.2}]
    assert last.drift["links"] == []  # no page rendered, no report index: no dead links
    assert first.drift["verdict"] is None and "naive" in first.drift["reason"]
    registry = published.registry()
    assert registry["champion"] == VERSION
    assert registry["cards"] == {VERSION: CARD}
    assert "path" not in registry["models"][0]  # no server paths in what the API serves


def test_a_rerun_publishes_anew_and_keeps_only_the_previous_publication(scored):
    s, day = scored.settings(), scored.days[-1]
    before = Published(_root(scored)).entry(day)
    firsts = [publish_snapshot(s, day) for _ in range(3)]
    entries = Published(_root(scored)).entries()
    assert entries[0].publication == firsts[-1].publication != before.publication
    kept = sorted(p.name for p in (_root(scored) / "days" / day.isoformat()).iterdir())
    assert kept == sorted(f.publication.rsplit("/", 1)[1] for f in firsts[-2:])
    assert [e.as_of for e in entries] == sorted(scored.days, reverse=True)  # others untouched


def test_a_publish_that_fails_leaves_no_half_day_and_the_index_as_it_was(scored, tmp_path):
    s, day = scored.settings(), scored.days[-1]
    index = (_root(scored) / folder.INDEX).read_bytes()
    day_dir = _root(scored) / "days" / day.isoformat()
    before = sorted(p.name for p in day_dir.iterdir())
    with pytest.raises(FileNotFoundError):
        publish_snapshot(s, day, tables={"orders": tmp_path / "missing.parquet"})
    assert (_root(scored) / folder.INDEX).read_bytes() == index
    assert sorted(p.name for p in day_dir.iterdir()) == before  # no temporary folder left


def test_orders_and_ledger_are_published_beside_the_predictions(scored, tmp_path):
    s, day = scored.settings(), scored.days[-1]
    orders = pl.DataFrame({"symbol": ["AAA", "BBB"], "side": ["buy", "sell"], "shares": [10, 20]})
    orders.write_parquet(tmp_path / "orders.parquet")
    snap = publish_snapshot(s, day, tables={"orders": tmp_path / "orders.parquet"})
    pub = Published(_root(scored)).day()
    assert pub.entry.publication == snap.publication
    assert_frame_equal(pub.tables["orders"], orders)
    assert "ledger" not in pub.tables and pub.run["tables"]["orders"]["rows"] == 2
    with pytest.raises(NepseError, match="known tables"):
        publish_snapshot(s, day, tables={"trades": tmp_path / "orders.parquet"})


def test_publishing_a_day_without_predictions_says_so(scored):
    with pytest.raises(NepseError, match="no predictions are stored"):
        publish_snapshot(scored.settings(), date(2001, 1, 1))


def test_reader_says_why_a_day_is_missing(scored):
    published = Published(_root(scored))
    with pytest.raises(NotPublished, match="published days run from"):
        published.entry(date(2001, 1, 1))
    with pytest.raises(NotPublished, match="nothing is published yet"):
        Published(_root(scored) / "nowhere").entry()


def test_a_replaced_index_is_seen_at_once(scored):
    published = Published(_root(scored))
    assert published.entry().as_of == scored.days[-1]
    raw = json.loads((_root(scored) / folder.INDEX).read_bytes())
    raw["days"] = raw["days"][1:]
    folder.write_atomic(_root(scored) / folder.INDEX, folder.dumps(raw))
    assert published.entry().as_of == scored.days[-2]


def test_the_run_state_is_recorded_atomically(scored):
    from datetime import UTC, datetime

    record = RunRecord(
        flow_name="daily-predictions",
        flow_run_id="r-1",
        flow_run_name="daily-x",
        state_type="FAILED",
        state_name="Failed",
        message="quality gate failed",
        as_of=None,
        at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    path = record_run(scored.settings(), record)
    assert json.loads(path.read_text())["state_type"] == "FAILED"
    assert Published(_root(scored)).last_run()["message"] == "quality gate failed"
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temp left
    with pytest.raises(NepseError, match="cannot name"):
        record_run(scored.settings(), record.__class__(**{**record.__dict__, "flow_name": "../x"}))


@pytest.mark.parametrize("relative", ["../x", "days/../../x", "/etc/passwd", "a\\..\\b"])
def test_paths_that_leave_the_folder_are_refused(tmp_path, relative):
    with pytest.raises(folder.UnsafePathError):
        folder.inside(tmp_path, relative)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "root" / "link").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "root" / "inner.txt").write_text("y")
    (tmp_path / "root" / "ok").symlink_to(tmp_path / "root" / "inner.txt")
    with pytest.raises(folder.UnsafePathError, match="outside"):
        folder.inside(tmp_path / "root", "link")
    assert folder.inside(tmp_path / "root", "ok").read_text() == "y"


def test_the_registry_copy_changes_only_when_the_registry_does(scored):
    from datetime import datetime

    from nepse.app.snapshot import publish_registry

    s = scored.settings()
    path = folder.published_root(scored.data_dir) / folder.REGISTRY
    before = path.stat().st_ino, path.read_bytes()
    publish_snapshot(s, scored.days[-1])
    publish_registry(s)
    assert (path.stat().st_ino, path.read_bytes()) == before  # unchanged: /models polls get 304
    with open_store(s.database) as st:
        st.insert_model(
            {
                "version": "20260202-000000-def456",
                "created_at": datetime(2026, 2, 2),
                "status": "candidate",
                "path": str(s.data_dir / "models" / "x"),
            }
        )
        publish_registry(s, st)
    after = json.loads(path.read_bytes())
    assert [m["version"] for m in after["models"]] == ["20260202-000000-def456", VERSION]
    assert after["published_at"] >= json.loads(before[1])["published_at"]
