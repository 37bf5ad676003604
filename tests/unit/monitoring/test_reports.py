"""The report review page: rows, order, links, self-containment, and the static server."""

from __future__ import annotations

import json
import re
import threading
import urllib.request
from datetime import date
from html.parser import HTMLParser

import polars as pl
import pytest

from nepse.errors import DataQualityError
from nepse.monitoring.reports import build_index, drift_report_path, prune_pages, serve

ROWS = [
    {
        "date": date(2026, 5, 3),
        "model_version": "v20260501",
        "share_drifted": 0.125,
        "dataset_drift": False,
        "n_drifted": 2,
        "n_columns": 16,
        "rank_ic": None,
    },
    {
        "date": date(2026, 5, 4),
        "model_version": "v20260501",
        "share_drifted": 0.75,
        "dataset_drift": True,
        "rank_ic": 0.0712,
    },
    {"date": "2026-05-01", "model_version": "v20260420", "share_drifted": 0.0},
]


class _Table(HTMLParser):
    """Collects the cells and links of the index's reports table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.links: list[str] = []
        self.assets: list[str] = []
        self._in_body = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td" and self._in_body:
            self._cell = []
        elif tag == "a" and self._in_body:
            self.links.append(attrs["href"])
        if tag in ("script", "link", "img", "iframe") or "src" in attrs:
            self.assets.append(tag)

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_body = False
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def parse(path) -> _Table:
    table = _Table()
    table.feed(path.read_text(encoding="utf-8"))
    return table


def touch_reports(data_dir, rows):
    for row in rows:
        path = drift_report_path(data_dir, row["date"], row["model_version"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("<html>report</html>", encoding="utf-8")


def test_index_rows_newest_first_with_values(tmp_path):
    touch_reports(tmp_path, ROWS)

    index = build_index(tmp_path, ROWS)

    assert index == tmp_path / "reports" / "index.html"
    rows = parse(index).rows
    assert rows == [
        ["2026-05-04", "v20260501", "—", "75.0%", "yes", "+0.071", "drift report"],
        ["2026-05-03", "v20260501", "—", "12.5% (2/16)", "no", "pending", "drift report"],
        ["2026-05-01", "v20260420", "—", "0.0%", "—", "pending", "drift report"],
    ]


def test_index_links_are_relative_and_resolve(tmp_path):
    touch_reports(tmp_path, ROWS)

    index = build_index(tmp_path, ROWS)

    links = parse(index).links
    assert links == [
        "2026-05-04/drift-v20260501.html",
        "2026-05-03/drift-v20260501.html",
        "2026-05-01/drift-v20260420.html",
    ]
    assert all((index.parent / link).is_file() for link in links)


def test_index_is_self_contained(tmp_path):
    index = build_index(tmp_path, ROWS)
    page = index.read_text(encoding="utf-8")

    assert parse(index).assets == []
    assert not re.search(r"https?://", page)
    assert "<style>" in page
    assert "How to read a drift report" in page


def test_missing_report_file_is_shown_not_linked(tmp_path):
    touch_reports(tmp_path, ROWS[:1])

    table = parse(build_index(tmp_path, ROWS))

    assert table.links == ["2026-05-03/drift-v20260501.html"]
    assert [r[-1] for r in table.rows] == ["report missing", "drift report", "report missing"]


def test_index_accepts_a_polars_frame_and_escapes_text(tmp_path):
    frame = pl.DataFrame(
        {
            "date": [date(2026, 5, 4)],
            "model_version": ["<b>v1</b>"],
            "share_drifted": [0.5],
            "dataset_drift": [True],
            "rank_ic": [float("nan")],
        }
    )

    page = build_index(tmp_path, frame).read_text(encoding="utf-8")

    assert "&lt;b&gt;v1&lt;/b&gt;" in page
    assert "<b>v1</b>" not in page
    assert parse(tmp_path / "reports" / "index.html").rows[0][5] == "pending"


def test_index_shows_the_calibrated_verdict_and_hides_in_sample_rank_ic(tmp_path):
    alarms = [
        {"name": "feature drift", "value": 0.41, "threshold": 0.32, "position": 1.0, "alarm": True},
        {"name": "market drift", "value": 0.8, "threshold": 2.1, "position": 0.55, "alarm": False},
    ]
    rows = [
        {
            "date": date(2026, 5, 4),
            "model_version": "v1",
            "alarms": json.dumps(alarms),
            "rank_ic": 0.41,
            "in_sample": True,
            "dataset_drift": True,
        },
    ]
    cells = parse(build_index(tmp_path, rows)).rows[0]
    assert cells[2] == "feature drift 0.410 / 0.320, 100thmarket drift 0.800 / 2.100, 55th"
    assert cells[5] == "in-sample"  # the flattering in-sample 0.41 is not shown


def test_empty_index_says_so(tmp_path):
    table = parse(build_index(tmp_path, []))

    assert table.rows == [["No drift reports yet: they appear after the first daily run."]]


def test_row_without_model_version_is_a_clear_error(tmp_path):
    with pytest.raises(DataQualityError, match="lacks model_version"):
        build_index(tmp_path, [{"date": "2026-05-04", "share_drifted": 0.1}])


def test_serve_serves_the_reports_folder_only(tmp_path):
    touch_reports(tmp_path, ROWS)
    build_index(tmp_path, ROWS)
    (tmp_path / "nepse.duckdb").write_bytes(b"secret")
    server = serve(tmp_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        with urllib.request.urlopen(base, timeout=5) as resp:
            assert "Drift reports" in resp.read().decode()
        with urllib.request.urlopen(base + "2026-05-04/drift-v20260501.html", timeout=5) as resp:
            assert resp.read() == b"<html>report</html>"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(base + "../nepse.duckdb", timeout=5)
        assert err.value.code == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    assert not thread.is_alive()


@pytest.fixture
def served(tmp_path):
    """The reports folder of `tmp_path` served on a free port; yields (base URL, folder)."""
    touch_reports(tmp_path, ROWS)
    build_index(tmp_path, ROWS)
    server = serve(tmp_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", tmp_path / "reports"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _status(url: str, method: str = "GET") -> tuple[int, bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serve_follows_no_link_out_of_the_reports_folder(served, tmp_path):
    base, reports = served
    (tmp_path / "nepse.duckdb").write_bytes(b"the database")
    (reports / "passwd").symlink_to("/etc/passwd")
    (reports / "data").symlink_to(tmp_path)  # a folder link to the data folder
    (reports / "inner").mkdir()
    (reports / "inner" / "index.html").symlink_to(tmp_path / "nepse.duckdb")
    (reports / "mirror.html").symlink_to(reports / "index.html")  # stays inside: served
    for path in ("passwd", "data/nepse.duckdb", "inner/", "inner/index.html", "data/"):
        code, body = _status(base + path)
        assert code == 404, (path, code)
        assert b"root:" not in body and b"the database" not in body
    assert _status(base + "mirror.html")[0] == 200


def test_serve_lists_no_folder(served):
    base, reports = served
    (reports / "2026-05-04" / "notes").mkdir()
    for path in ("2026-05-04/", "2026-05-04/notes/"):
        code, body = _status(base + path)
        assert code == 404 and b"drift-v20260501.html" not in body, (path, code)
    assert _status(base)[0] == 200  # a folder with index.html is its index


def test_serve_takes_no_writes(served):
    base, _ = served
    for method in ("PUT", "POST", "DELETE"):
        assert _status(base + "index.html", method)[0] == 501
    assert _status(base + "index.html")[0] == 200


def test_serve_without_reports_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DataQualityError, match="run the daily flow"):
        serve(tmp_path, port=0)


def test_pages_past_the_retention_are_deleted_and_not_linked(tmp_path):
    rows = [
        {"date": date(2026, 5, 4), "model_version": "v2"},
        {"date": date(2026, 4, 1), "model_version": "v1"},  # 33 days before: past 30
        {"date": date(2026, 4, 20), "model_version": "v1"},  # recent, but its page is gone
    ]
    touch_reports(tmp_path, rows[:2])
    (tmp_path / "reports" / "2026-04-01" / "notes.txt").write_text("mine")
    (tmp_path / "reports" / "2026-03-30").mkdir()
    (tmp_path / "reports" / "2026-03-30" / "drift-v0.html").write_text("old")

    assert prune_pages(tmp_path, date(2026, 5, 4), 30) == 2
    assert prune_pages(tmp_path, date(2026, 5, 4), 0) == 0  # 0 keeps everything
    assert not (tmp_path / "reports" / "2026-03-30").exists()  # emptied: removed
    assert (tmp_path / "reports" / "2026-04-01" / "notes.txt").exists()  # not ours: kept
    assert (tmp_path / "reports" / "2026-05-04" / "drift-v2.html").exists()

    table = parse(build_index(tmp_path, rows, keep_days=30))
    assert table.links == ["2026-05-04/drift-v2.html"]
    assert [r[-1] for r in table.rows] == [
        "drift report",
        "report missing",
        "deleted (NEPSE_REPORT_RETENTION_DAYS)",
    ]


def test_a_full_disk_keeps_the_previous_index(tmp_path, disk):
    """A full disk while writing the index: yesterday's index stays whole, the error names the
    path and the cause, no temporary file is left behind, and it works once there is space."""
    touch_reports(tmp_path, ROWS)
    before = build_index(tmp_path, ROWS).read_text(encoding="utf-8")
    disk.fill()
    with pytest.raises(OSError, match=r"index\.html: no space left on device"):
        build_index(tmp_path, ROWS[:1])
    disk.free()
    assert (tmp_path / "reports" / "index.html").read_text(encoding="utf-8") == before
    assert [p.name for p in (tmp_path / "reports").iterdir() if p.name.endswith(".tmp")] == []
    assert build_index(tmp_path, ROWS[:1]).read_text(encoding="utf-8") != before


def test_before_the_first_run_the_root_is_the_empty_index(tmp_path):
    (tmp_path / "reports" / "2026-05-04").mkdir(parents=True)
    server = serve(tmp_path, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}/"
        code, body = _status(base)
        assert code == 200 and b"No drift reports yet" in body
        assert _status(base + "2026-05-04/")[0] == 404  # other folders are still not listed
        assert not (tmp_path / "reports" / "index.html").exists()  # the server writes nothing
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
