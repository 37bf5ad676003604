"""The published folder: the layout the API reads, and writes that no reader sees half done.

    <data_dir>/published/
      index.json                         every published day, newest first: the one pointer
      days/<YYYY-MM-DD>/<publication>/   one folder per publication of a day, never changed:
        run.json                         as_of, model_version, flow_run_id, counts, files
        predictions.parquet              the day's rows of the `predictions` table
        drift.json                       the day's drift verdict and links to its pages
        orders.parquet, ledger.parquet   the day's orders and paper ledger, when the run made them
      registry.json                      the model registry and cards as of its last change
      runs/<flow name>.json              the state a flow's last run reached (its state hooks)

A publication is written in a temporary folder and renamed when complete; then index.json is
replaced (a temporary file renamed over it) under a lock the publishers share. A reader takes
index.json first, then opens files of a folder nobody changes again. A rerun of a day writes a
new publication; the one it replaces stays until the day's next (a slow reader finishes),
older ones are deleted. Renames within one file system are atomic on POSIX, which is why the
temporary names sit beside the final ones.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from nepse.errors import NepseError

log = logging.getLogger(__name__)

PUBLISHED = "published"
INDEX = "index.json"
REGISTRY = "registry.json"
RUN = "run.json"
DRIFT = "drift.json"
TABLES = {
    "predictions": "predictions.parquet",
    "orders": "orders.parquet",
    "ledger": "ledger.parquet",
}
"""The tables a publication may hold, by name: predictions always, orders and ledger when the
daily run made them."""
KEEP_PER_DAY = 2
"""Publications kept per day: the current one and the one it replaced (for readers mid-way)."""
STALE_TEMP_S = 3600.0
"""A temporary folder older than this was left by a publisher that died: deleted."""
FORMAT = 1

DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
PUBLICATION_RE = re.compile(r"^days/(\d{4}-\d{2}-\d{2})/(\d{8}T\d{12}Z-[0-9a-f]{8})$")
FLOW_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_ID_RE = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{8}$")


class UnsafePathError(NepseError):
    """A path that would leave the published folder (a `..`, an absolute path, a symlink out)."""


def published_root(data_dir: Path) -> Path:
    """The published folder of a data folder."""
    return Path(data_dir) / PUBLISHED


def inside(root: Path, relative: str) -> Path:
    """`root/relative` resolved (symlinks followed); UnsafePathError unless it stays in root."""
    base = root.resolve()
    if relative.startswith(("/", "\\")) or "\\" in relative or ".." in relative.split("/"):
        raise UnsafePathError(f"refused path {relative!r}: not a plain path inside {base}")
    real = (base / relative).resolve()
    if real != base and base not in real.parents:
        raise UnsafePathError(f"refused path {relative!r}: it resolves outside {base}")
    return real


def new_publication(as_of: date, now: datetime | None = None) -> str:
    """A new publication's path under the root: days/<as_of>/<UTC time>Z-<random>."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"days/{as_of.isoformat()}/{now:%Y%m%dT%H%M%S%f}Z-{secrets.token_hex(4)}"


def jsonable(value: Any) -> Any:
    """`json.dumps` default: dates and times as ISO text, paths as text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(obj: Any) -> bytes:
    """The JSON bytes every published file and API answer uses."""
    return json.dumps(obj, default=jsonable, separators=(",", ":"), allow_nan=False).encode()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `path` under a temporary name beside it, flush it to disk, rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def staged(root: Path, publication: str) -> Iterator[Path]:
    """A temporary folder to fill; renamed to `root/publication` when the block ends cleanly,
    deleted when it raises."""
    if not PUBLICATION_RE.match(publication):
        raise UnsafePathError(f"not a publication path: {publication!r}")
    final = root / publication
    tmp = final.with_name(f".{final.name}.tmp")
    tmp.mkdir(parents=True)
    try:
        yield tmp
        for item in tmp.iterdir():
            with item.open("rb") as f:
                os.fsync(f.fileno())
        os.rename(tmp, final)
        _fsync_dir(final.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def publisher_lock(root: Path) -> Iterator[None]:
    """Held by a publisher while it replaces index.json (the daily run, `nepse api publish`)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def read_index(root: Path) -> list[dict[str, Any]]:
    """index.json's day entries, newest first (empty when nothing is published)."""
    try:
        data = json.loads((root / INDEX).read_bytes())
    except FileNotFoundError:
        return []
    return list(data.get("days") or [])


def add_to_index(root: Path, entries: list[dict[str, Any]]) -> None:
    """Put `entries` (one per day; a day's newer entry replaces its older) into index.json,
    then delete the publications of those days that nobody may still be reading."""
    entries = json.loads(dumps(entries))  # dates as text, as read back from the file
    with publisher_lock(root):
        by_day = {e["as_of"]: e for e in read_index(root)}
        by_day.update({e["as_of"]: e for e in entries})
        days = sorted(by_day.values(), key=lambda e: e["as_of"], reverse=True)
        write_atomic(
            root / INDEX,
            dumps({"format": FORMAT, "updated_at": datetime.now(UTC), "days": days}),
        )
        for entry in entries:
            prune_day(root, entry["publication"])


def prune_day(root: Path, current: str) -> list[str]:
    """Delete a day's publications but `current` and the newest before it, and temporary
    folders older than an hour; returns what was deleted."""
    day_dir = (root / current).parent
    keep = {Path(current).name}
    ids = sorted((p.name for p in day_dir.iterdir() if _ID_RE.match(p.name)), reverse=True)
    keep.update([i for i in ids if i not in keep][: KEEP_PER_DAY - 1])
    gone = []
    for item in day_dir.iterdir():
        old_temp = item.name.startswith(".") and time.time() - item.stat().st_mtime > STALE_TEMP_S
        if (_ID_RE.match(item.name) and item.name not in keep) or old_temp:
            shutil.rmtree(item, ignore_errors=True)
            gone.append(item.name)
    if gone:
        log.info("published folder: deleted %d old publication(s) of %s", len(gone), day_dir.name)
    return gone
