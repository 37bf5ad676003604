"""The API's answers over a published folder: what each route says, in which format, and
that polling clients get 304 until something changes."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta
from email.utils import format_datetime

import polars as pl
import pytest

from nepse.app.snapshot import RunRecord, publish_snapshot, record_run
from tests.unit.api.conftest import CARD, VERSION, client, kathmandu

HEAD = ("as_of", "model_version", "flow_run_id")


def _rows_match(body: dict) -> None:
    """Every row belongs to the day and model its answer names."""
    assert body["data"], body
    assert {r["date"] for r in body["data"]} == {body["as_of"]}
    assert {r["model_version"] for r in body["data"]} == {body["model_version"]}
    assert {r["flow_run_id"] for r in body["data"]} == {body["flow_run_id"]}


def test_latest_serves_the_newest_day_whole_and_best_first(scored):
    answer = client(scored).get("/predictions/latest")
    assert answer.status_code == 200
    body = answer.json()
    last = scored.days[-1]
    assert body["as_of"] == last.isoformat() and body["latest"] is True
    assert body["flow_run_id"] == f"run-{last.isoformat()}"
    assert body["total"] == len(body["data"]) > 20 and body["next"] is None
    _rows_match(body)
    ranks = [r["pred_rank"] for r in body["data"]]
    assert ranks == sorted(ranks, reverse=True)
    assert answer.headers["x-as-of"] == body["as_of"]
    assert answer.headers["x-model-version"] == body["model_version"]
    assert answer.headers["x-flow-run-id"] == body["flow_run_id"]


def test_latest_says_when_the_calendar_expected_a_later_day(scored):
    last = scored.days[-1]
    fresh = client(scored, now=kathmandu(last, 18)).get("/predictions/latest").json()
    assert fresh["stale"] is False and fresh["expected_session"] == last.isoformat()
    # A year on (so that the due time is later than the publication's own time).
    year_later = kathmandu(last + timedelta(days=400), 18)
    late = client(scored, now=year_later).get("/predictions/latest")
    body = late.json()
    assert body["stale"] is True and body["as_of"] == last.isoformat()  # yesterday's, marked
    assert body["expected_session"] > last.isoformat()
    # The answer changed when the expected session's close (15:00) + 60 min grace passed.
    expected = date.fromisoformat(body["expected_session"])
    due = kathmandu(expected, 16)
    assert due > datetime.fromisoformat(body["published_at"])
    assert late.headers["last-modified"] == format_datetime(due, usegmt=True)
    asked = client(scored, now=year_later).get(f"/predictions/{last}").json()
    assert asked["stale"] is None and asked["latest"] is True  # a day asked by date is that day


def test_any_day_and_one_symbol(scored):
    c = client(scored)
    first = scored.days[0]
    body = c.get(f"/predictions/{first}").json()
    assert body["as_of"] == first.isoformat() and body["latest"] is False
    _rows_match(body)
    symbol = body["data"][3]["symbol"]
    one = c.get(f"/predictions/{first}/{symbol}").json()
    assert one["total"] == 1 and one["data"] == [body["data"][3]]
    latest_one = c.get(f"/predictions/latest/{symbol}").json()
    assert latest_one["as_of"] == scored.days[-1].isoformat()
    assert latest_one["data"][0]["symbol"] == symbol
    missing = c.get(f"/predictions/{first}/ZZZZ")
    assert missing.status_code == 404 and "ZZZZ has no predictions" in missing.json()["detail"]
    assert missing.json()["as_of"] == first.isoformat()
    gone = c.get("/predictions/2001-01-02")
    assert gone.status_code == 404 and "published days run from" in gone.json()["detail"]


def test_pages_add_up_to_the_whole_day(scored):
    c = client(scored)
    whole = c.get("/predictions/latest").json()["data"]
    rows, url, pages = [], "/predictions/latest?limit=7", 0
    while url:
        answer = c.get(url)
        body = answer.json()
        _rows_match(body)
        assert answer.headers["x-total-count"] == str(len(whole))
        if body["next"]:
            assert answer.headers["link"] == f'<{body["next"]}>; rel="next"'
        rows += body["data"]
        url, pages = body["next"], pages + 1
    assert rows == whole and pages == -(-len(whole) // 7)
    csv = c.get("/predictions/latest?format=csv&limit=5")
    assert csv.headers["link"] == '</predictions/latest?format=csv&offset=5&limit=5>; rel="next"'
    # What a client adds to the query (a cache-buster) changes nothing, and is not carried on.
    plain, busted = c.get("/predictions/latest?limit=7"), c.get("/predictions/latest?limit=7&_=1")
    assert plain.headers["etag"] == busted.headers["etag"]
    assert busted.json()["next"] == "/predictions/latest?offset=7&limit=7"
    assert c.get("/predictions/latest?limit=0").status_code == 422
    assert c.get("/predictions/latest?limit=5001").status_code == 422


@pytest.mark.parametrize(
    ("query", "accept", "kind"),
    [
        ("?format=csv", None, "csv"),
        ("", "text/csv", "csv"),
        ("?format=parquet", None, "parquet"),
        ("", "application/vnd.apache.parquet", "parquet"),
        ("?format=json", "text/csv", "json"),
    ],
)
def test_csv_and_parquet_on_request(scored, query, accept, kind):
    c = client(scored)
    expected = pl.DataFrame(c.get("/predictions/latest").json()["data"])
    answer = c.get("/predictions/latest" + query, headers={"accept": accept} if accept else {})
    assert answer.status_code == 200
    if kind == "json":
        assert answer.headers["content-type"] == "application/json"
        return
    frame = (pl.read_csv if kind == "csv" else pl.read_parquet)(io.BytesIO(answer.content))
    assert frame.height == expected.height
    assert frame["symbol"].to_list() == expected["symbol"].to_list()
    assert set(frame["model_version"].cast(pl.String)) == {answer.headers["x-model-version"]}
    assert {str(d) for d in frame["date"]} == {answer.headers["x-as-of"]}
    assert answer.headers["x-stale"] == "false"


def test_polling_gets_304_until_the_day_is_published_again(scored):
    c = client(scored)
    first = c.get("/predictions/latest")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = c.get("/predictions/latest", headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert c.get("/predictions/latest", headers={"if-modified-since": modified}).status_code == 304
    assert c.get("/predictions/latest", headers={"if-none-match": '"other"'}).status_code == 200
    publish_snapshot(scored.settings(), scored.days[-1])
    fresh = c.get("/predictions/latest", headers={"if-none-match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag


def test_orders_and_ledger_are_404_with_the_reason_until_published(scored, tmp_path):
    c = client(scored)
    for route in ("/orders/latest", "/ledger/latest", f"/orders/{scored.days[0]}"):
        answer = c.get(route)
        assert answer.status_code == 404
        assert "published no" in answer.json()["detail"]
        assert answer.json()["as_of"] and answer.headers["x-as-of"]
    ledger = pl.DataFrame({"date": [scored.days[-1]], "nav": [1.0e7], "cash": [2.5e6]})
    ledger.write_parquet(tmp_path / "ledger.parquet")
    publish_snapshot(
        scored.settings(), scored.days[-1], tables={"ledger": tmp_path / "ledger.parquet"}
    )
    body = c.get("/ledger/latest").json()
    assert body["total"] == 1 and body["data"][0]["nav"] == 1.0e7
    assert body["as_of"] == scored.days[-1].isoformat()


def test_drift_verdict_and_its_reason_when_there_is_none(scored):
    c = client(scored)
    body = c.get("/drift/latest").json()
    assert body["drift"]["verdict"] == "ok" and body["drift"]["n_drifted"] == 1
    assert body["as_of"] == scored.days[-1].isoformat()
    none = c.get(f"/drift/{scored.days[0]}")
    assert none.status_code == 404 and "no drift verdict" in none.json()["detail"]


def test_registry_champion_and_card(scored):
    c = client(scored)
    models = c.get("/models").json()
    assert models["champion"] == VERSION == models["model_version"]
    assert [m["version"] for m in models["data"]] == [VERSION]
    champ = c.get("/models/champion").json()
    assert champ["model"]["version"] == VERSION and champ["card"] == CARD
    assert c.get(f"/models/{VERSION}").json()["card"] == CARD
    unknown = c.get("/models/20990101-000000-ffffff")
    assert unknown.status_code == 404 and "not in the published registry" in unknown.text


def test_health_names_the_day_the_champion_and_the_last_run(scored):
    from datetime import UTC

    last = scored.days[-1]
    record_run(
        scored.settings(),
        RunRecord(
            "daily-predictions",
            "r-9",
            "daily-x",
            "FAILED",
            "Failed",
            "gate failed",
            None,
            datetime.now(UTC),
        ),
    )
    ok = client(scored, now=kathmandu(last, 18)).get("/health").json()
    assert ok["status"] == "ok" and ok["as_of"] == last.isoformat() and not ok["stale"]
    assert ok["champion"] == VERSION and ok["days_published"] == 3
    assert ok["last_run"]["state_type"] == "FAILED" and ok["last_run"]["message"] == "gate failed"
    late = client(scored, now=kathmandu(last + timedelta(days=9), 18)).get("/health").json()
    assert late["status"] == "stale" and late["missed_sessions"] >= 5


def test_health_of_an_empty_folder(tmp_path):
    from fastapi.testclient import TestClient

    from nepse.api.app import create_app
    from nepse.settings import load_settings

    body = TestClient(create_app(load_settings(data_dir=tmp_path))).get("/health").json()
    assert body["status"] == "empty" and body["days_published"] == 0
    assert all(body[k] is None for k in HEAD)


def test_days_lists_every_published_day(scored):
    body = client(scored).get("/days").json()
    assert [d["as_of"] for d in body["data"]] == [d.isoformat() for d in reversed(scored.days)]
    assert all(d["n"] > 20 for d in body["data"])
    csv = client(scored).get("/days?format=csv")
    assert pl.read_csv(io.BytesIO(csv.content)).height == 3
