"""A replay's state: what it replays, how far it got, what each day cost; and the database as
the last completed day left it.

Everything lives in the replay folder (`<data_dir>/replay/`): `state.json`, written atomically
after each completed day (the history and the initial training count as one), and
`snapshot/<label>.duckdb`, a copy of the database file taken at that moment (the documented
offline backup: the file, and its `.wal` if there is one, copied while no run writes it). A
replay killed anywhere restarts from the last completed day: the database goes back to that
day's copy (so nothing a killed step half-did remains) and the day after it runs again, the
same steps on the same staged files, which makes the same database.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

STATE = "state.json"
SNAPSHOTS = "snapshot"
START = "start"
"""The label of the database as the replay found it (restored when the first unit was killed)."""
HISTORY = "history"
"""The label of the first unit: the history ingested and the first model trained."""


@dataclass
class ReplayState:
    """What a replay replays and how far it got (`done`: the last completed unit's label)."""

    source: str
    start: date
    end: date
    days: list[date]
    history_end: date | None
    staged: dict[str, Any] = field(default_factory=dict)
    done: str | None = None
    records: list[dict[str, Any]] = field(default_factory=list)
    """One per completed unit, in order (`nepse.replay.record`)."""

    def remaining(self) -> list[date]:
        """The days still to replay, in order."""
        if self.done in (None, START, HISTORY):
            return list(self.days)
        last = date.fromisoformat(self.done)
        return [d for d in self.days if d > last]

    def previous(self, day: date) -> date | None:
        """The replayed day before `day` (the history's last day before the first)."""
        earlier = [d for d in self.days if d < day]
        return earlier[-1] if earlier else self.history_end

    def to_json(self) -> str:
        """The state as JSON (dates as ISO strings)."""
        return json.dumps(asdict(self), indent=1, default=str) + "\n"

    @classmethod
    def from_json(cls, text: str) -> ReplayState:
        """Read a state written by `to_json`."""
        raw = json.loads(text)
        day = date.fromisoformat
        return cls(
            source=raw["source"],
            start=day(raw["start"]),
            end=day(raw["end"]),
            days=[day(d) for d in raw["days"]],
            history_end=day(raw["history_end"]) if raw.get("history_end") else None,
            staged=raw.get("staged") or {},
            done=raw.get("done"),
            records=raw.get("records") or [],
        )


def load_state(folder: Path) -> ReplayState | None:
    """The replay folder's state, or None before a replay began there."""
    path = folder / STATE
    return ReplayState.from_json(path.read_text(encoding="utf-8")) if path.is_file() else None


def save_state(folder: Path, state: ReplayState) -> None:
    """Write the state atomically (a kill leaves the old one or the new one)."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{STATE}.tmp"
    tmp.write_text(state.to_json(), encoding="utf-8")
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    tmp.replace(folder / STATE)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def save_snapshot(database: Path, folder: Path, label: str) -> Path:
    """Copy the database file (and its WAL, if any) to `snapshot/<label>.duckdb`."""
    snaps = folder / SNAPSHOTS
    snaps.mkdir(parents=True, exist_ok=True)
    target = snaps / f"{label}.duckdb"
    for src, dst in ((database, target), (_wal(database), _wal(target))):
        if src.is_file():
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
        else:
            dst.unlink(missing_ok=True)
    return target


def restore_snapshot(database: Path, folder: Path, label: str) -> None:
    """Put the database back as `snapshot/<label>.duckdb` holds it."""
    source = folder / SNAPSHOTS / f"{label}.duckdb"
    if not source.is_file():
        raise FileNotFoundError(f"replay snapshot {source} is missing")
    for src, dst in ((source, database), (_wal(source), _wal(database))):
        if src.is_file():
            tmp = dst.with_name(f".{dst.name}.restore")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
        else:
            dst.unlink(missing_ok=True)


def prune_snapshots(folder: Path, keep: str) -> None:
    """Delete every snapshot but `keep` (the one the state names)."""
    for path in (folder / SNAPSHOTS).glob("*.duckdb*"):
        if not path.name.startswith(f"{keep}.duckdb"):
            path.unlink(missing_ok=True)


def folder_bytes(path: Path) -> int:
    """Bytes of the files under `path` (0 when it does not exist)."""
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += (Path(root) / name).stat().st_size
            except OSError:  # a file deleted meanwhile (a temporary one)
                continue
    return total
