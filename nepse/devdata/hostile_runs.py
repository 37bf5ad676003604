"""Hostile situations met by a daily run's own steps (nepse.app): a pending API day, a
predictions file that cannot be written, a disk that fills while the day is published for the
HTTP API. Each runs the steps the flow runs, on a small sample market of its own, without a
Prefect API (the flow's branching on these outcomes is tested in tests/flows/test_daily.py).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from nepse.devdata.hostile_scenarios import Scenario, Seen, refused, settings_at, small_disk
from nepse.errors import NepseError


def _scored(root: Path):
    """A 30-equity, 1-year sample market ingested under `root`; its newest day and settings."""
    from nepse.app import ingest
    from nepse.devdata.sample import write_sample

    market = root / "market"
    write_sample(market, symbols=30, years=1.0, seed=3)
    s = settings_at(root)
    day = ingest.ingest_file_day(s, market, None, check_fresh=False)
    return s, day


def _predictions(s, day: date) -> int:
    from nepse.store import open_store

    with open_store(s.database, read_only=True) as st:
        return st.predictions(dates=[day]).height


def pending_api_day(root: Path) -> Seen:
    """The API answers a session day with nothing yet (unconfirmed), after the close."""
    from nepse.app import daily, fetch
    from nepse.ingest.day import FetchedDay

    s = settings_at(root)
    d = date(2025, 8, 24)  # a Sunday session before NEPSE moved to Monday-Friday
    now = datetime(2025, 8, 24, 12, 0, tzinfo=UTC)  # 17:45 in Kathmandu
    out = fetch.api_day(s, FetchedDay(d, "pending", pages=1), None, now=now)
    decision = daily.decide_day(out)
    wrong = ()
    if decision.ok or "holiday" in out.detail.split(";")[0]:
        wrong = (f"a pending day reported as {out.status}: {out.detail}",)
    return Seen(f"status {out.status}, run ok={decision.ok}: {out.detail}", wrong)


def predictions_unwritable(root: Path) -> Seen:
    """A file stands where the predictions folder should be: the day cannot be written."""
    from nepse.app import daily

    s, day = _scored(root)
    (s.data_dir / "predictions").write_text("a file where the folder should be\n")
    message = refused(lambda: daily.score_day(s, day.as_of), NepseError)
    stored = _predictions(s, day.as_of)
    wrong = (f"{stored} predictions stored without their file",) if stored else ()
    return Seen(message or "scored although the file could not be written", wrong)


def full_disk_publishing(root: Path) -> Seen:
    """The disk holding the API's published folder is full when the day is published."""
    from nepse.app import daily, publish

    s, day = _scored(root)
    gate = daily.gate_day(s, day)
    scored = daily.score_day(s, day.as_of)
    verdict = daily.evaluate_past(s, scored, None)
    with small_disk(root, "64k") as disk:
        filler = disk / "filler"
        try:  # fill it to the last block
            with filler.open("wb") as f:
                f.write(b"\0" * 1_000_000)
        except OSError:
            pass
        published = s.data_dir / "published"
        published.symlink_to(disk, target_is_directory=True)
        out = publish.publish_day(s, scored, gate, None, None, verdict)
        published.unlink()
    kinds = [a.kind for a in out.alerts]
    wrong = () if _predictions(s, day.as_of) == scored.n else ("the day's predictions changed",)
    if "publish" not in kinds:
        wrong += (f"no publish alert (alerts: {kinds})",)
    return Seen(out.publish_error or "published on a full disk", wrong)


SCENARIOS_RUNS: tuple[Scenario, ...] = (
    Scenario("API day pending (no answer yet)", "run state", "status pending", pending_api_day),
    Scenario(
        "predictions file cannot be written",
        "unwritable file",
        "cannot be written to",
        predictions_unwritable,
    ),
    Scenario(
        "disk full while publishing for the API",
        "full disk",
        "the disk is full",
        full_disk_publishing,
    ),
)
