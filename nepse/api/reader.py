"""Reading the published folder for the API: index first, then a publication nobody changes.

Every answer is built from one publication (one day's folder), so its predictions, as_of,
model version and flow run id cannot disagree. Small files are cached by their (inode, mtime,
size): a publisher replaces them by rename, so a new version is a new inode and the next
request sees it. Publications never change once written, so their tables are cached by path
and dropped when the cache is full. No DuckDB here: the API never opens the database.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from nepse.api.folder import (
    DRIFT,
    FLOW_RE,
    INDEX,
    PUBLICATION_RE,
    REGISTRY,
    RUN,
    TABLES,
    UnsafePathError,
    inside,
)
from nepse.calendar import TradingCalendar
from nepse.errors import NepseError

log = logging.getLogger(__name__)

DAILY_FLOW = "daily-predictions"
PUBLICATIONS_CACHED = 16


class NotPublished(NepseError):
    """What was asked for is not in the published folder; the message says why."""

    def __init__(self, message: str, entry: Entry | None = None) -> None:
        super().__init__(message)
        self.entry = entry


@dataclass(frozen=True)
class Entry:
    """One published day, as index.json lists it."""

    as_of: date
    publication: str
    model_version: str
    model_role: str
    flow_run_id: str | None
    n: int
    published_at: datetime

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Entry:
        """An index line, checked: its publication must be a plain path of the layout."""
        if not PUBLICATION_RE.match(str(raw.get("publication"))):
            raise UnsafePathError(f"index entry names no publication: {raw.get('publication')!r}")
        return cls(
            as_of=date.fromisoformat(raw["as_of"]),
            publication=raw["publication"],
            model_version=raw["model_version"],
            model_role=raw["model_role"],
            flow_run_id=raw.get("flow_run_id"),
            n=int(raw["n"]),
            published_at=datetime.fromisoformat(raw["published_at"]),
        )


@dataclass
class Publication:
    """One day's publication: run facts, drift document and tables, read once (it never
    changes), with the answers already rendered from it."""

    entry: Entry
    path: Path
    run: dict[str, Any]
    drift: dict[str, Any]
    tables: dict[str, pl.DataFrame]
    """The day's tables by name (predictions always; orders, ledger when published)."""
    memo: dict[tuple, Any] = field(default_factory=dict)
    """Answers already rendered from this publication, by request."""

    def calendar(self) -> TradingCalendar:
        """The stored sessions up to the day (for staleness)."""
        return TradingCalendar(tuple(date.fromisoformat(d) for d in self.run.get("sessions", ())))


class Published:
    """The published folder as the API sees it: cached, re-read when a file is replaced."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._small: dict[str, tuple[tuple[int, int, int], Any]] = {}
        self._pubs: OrderedDict[str, Publication] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, relative: str, parse: Callable[[bytes], Any]) -> Any | None:
        """A small file parsed, re-read only when it was replaced; None when it is absent.

        An unchanged (inode, mtime, size) is the file already checked and read; a new one is
        checked again (inside the folder) before it is read."""
        try:
            st = os.stat(self.root / relative)
        except FileNotFoundError:
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._small.get(relative)
        if hit is not None and hit[0] == key:
            return hit[1]
        value = parse(inside(self.root, relative).read_bytes())
        self._small[relative] = (key, value)
        return value

    def entries(self) -> tuple[Entry, ...]:
        """Every published day, newest first."""
        return self._cached(INDEX, _parse_index) or ()

    def entry(self, as_of: date | None = None) -> Entry:
        """The latest published day (None) or `as_of`'s entry; NotPublished says why not."""
        entries = self.entries()
        if not entries:
            raise NotPublished(
                "nothing is published yet: the daily run publishes each scored day; for a "
                "database scored before the API existed run `nepse api publish` once"
            )
        if as_of is None:
            return entries[0]
        for e in entries:
            if e.as_of == as_of:
                return e
        raise NotPublished(
            f"no predictions are published for {as_of}: it was not scored (not a trading day, "
            f"or not run yet); published days run from {entries[-1].as_of} to {entries[0].as_of}"
        )

    def publication(self, entry: Entry) -> Publication:
        """The publication an entry names (cached; it never changes)."""
        with self._lock:
            pub = self._pubs.get(entry.publication)
            if pub is not None:
                self._pubs.move_to_end(entry.publication)
                return pub
        folder = inside(self.root, entry.publication)
        try:
            run = json.loads((folder / RUN).read_bytes())
            drift = json.loads((folder / DRIFT).read_bytes())
            tables = {}
            for name in run.get("tables", {}):
                if name not in TABLES:
                    raise UnsafePathError(f"{entry.publication}: unknown table {name!r}")
                path = inside(self.root, f"{entry.publication}/{TABLES[name]}")  # no symlink out
                tables[name] = pl.read_parquet(path)
        except FileNotFoundError as exc:
            raise NotPublished(
                f"the publication of {entry.as_of} was replaced while it was read; ask again"
            ) from exc
        pub = Publication(entry=entry, path=folder, run=run, drift=drift, tables=tables)
        with self._lock:
            self._pubs[entry.publication] = pub
            while len(self._pubs) > PUBLICATIONS_CACHED:
                self._pubs.popitem(last=False)
        return pub

    def day(self, as_of: date | None = None) -> Publication:
        """The publication of `as_of` (None: the latest), read again once if it was replaced
        between the index and its files."""
        try:
            return self.publication(self.entry(as_of))
        except NotPublished as exc:
            if exc.__cause__ is None:
                raise
            self._small.pop(INDEX, None)
            return self.publication(self.entry(as_of))

    def registry(self) -> dict[str, Any] | None:
        """The registry's published copy (rows and cards), or None before the first publish."""
        return self._cached(REGISTRY, json.loads)

    def last_run(self, flow: str = DAILY_FLOW) -> dict[str, Any] | None:
        """The last state a flow's run recorded (its state hooks), or None."""
        if not FLOW_RE.match(flow):
            raise UnsafePathError(f"not a flow name: {flow!r}")
        return self._cached(f"runs/{flow}.json", json.loads)


def _parse_index(raw: bytes) -> tuple[Entry, ...]:
    entries = []
    for line in json.loads(raw).get("days") or ():
        try:
            entries.append(Entry.of(line))
        except (UnsafePathError, KeyError, ValueError) as exc:
            log.warning("index.json: entry skipped: %s", exc)
    return tuple(sorted(entries, key=lambda e: e.as_of, reverse=True))
