"""A folder source ingests only what changed since its last ingestion.

A daily run fed from a folder (the ShareSansar company-wise files: 339 files, 443,917 rows)
would otherwise re-read and re-validate the whole folder to score one day. Each file read is
recorded in the store (`source_files`: path, size, modification time, SHA-256, run). The next
ingestion of the same folder reads only:

- new files, and files whose size or modification time changed and whose content (SHA-256)
  differs: such a file is read whole again (its rows are upserted, so a corrected row replaces
  the stored one; a row deleted from the file stays stored);
- nothing else: a file only touched (same content) is re-stamped, not read.

A file recorded before and gone now is reported (a warning in the run's log and the returned
`FolderChanges`) and forgotten; its prices stay stored. `changed_only=False` reads every file
again (after changing an ingestion rule such as NEPSE_OHLC_POLICY).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nepse.ingest.report import IngestReport
from nepse.ingest.service import ingest_path, ingest_read, trusted_today
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)

Stamp = tuple[int, int, str]
"""(size, mtime_ns, sha256) of a file."""


@dataclass(frozen=True)
class FolderChanges:
    """What changed in a folder since its last ingestion."""

    root: Path
    to_read: tuple[Path, ...]
    """New files, and files whose content changed: read whole."""
    restamped: dict[str, Stamp]
    """Files touched without a content change: new stamps, nothing to read."""
    removed: tuple[str, ...]
    """Files recorded before that are gone."""
    unchanged: int
    stamps: dict[str, Stamp]
    """The stamps of `to_read`, recorded once they are stored."""


def sha256(path: Path) -> str:
    """The file's SHA-256 (hex)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_changes(root: Path, recorded: dict[str, Stamp]) -> FolderChanges:
    """Compare the files under `root` with their recorded stamps (hashing only files whose
    size or modification time moved)."""
    # The walk the readers use: an unreadable entry is an error, a linked folder read once.
    from nepse.sources.walk import files_under

    files = files_under(root, [])
    to_read, stamps, restamped, unchanged = [], {}, {}, 0
    for file in files:
        stat = file.stat()
        old = recorded.get(str(file))
        if old is not None and old[:2] == (stat.st_size, stat.st_mtime_ns):
            unchanged += 1
            continue
        stamp = (stat.st_size, stat.st_mtime_ns, sha256(file))
        if old is not None and old[2] == stamp[2]:
            restamped[str(file)] = stamp
            unchanged += 1
            continue
        to_read.append(file)
        stamps[str(file)] = stamp
    present = {str(f) for f in files}
    removed = tuple(sorted(p for p in recorded if p not in present))
    return FolderChanges(root, tuple(to_read), restamped, removed, unchanged, stamps)


def ingest_changes(
    settings: Settings,
    path: str | Path,
    *,
    changed_only: bool = True,
    today: date | None = None,
) -> tuple[IngestReport, FolderChanges | None]:
    """Ingest a file, or the files of a folder that changed since its last ingestion (every
    file with `changed_only=False`); the run's report and, for a folder, what changed."""
    path = Path(path)
    if not path.is_dir():
        return ingest_path(settings, path, today=today), None
    from nepse.sources.readers import read_path

    root = path.resolve()
    # The clock is checked before anything is read, even when no file changed since the last
    # run: a clock behind the stored sessions must fail the run, not score a stale day.
    today = today or trusted_today(settings)
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        recorded = store.source_files(str(root)) if changed_only else {}
    changes = folder_changes(root, recorded)
    if changes.removed:
        log.warning(
            "%d file(s) ingested from %s before are gone (their prices stay stored): %s",
            len(changes.removed),
            root,
            ", ".join(changes.removed),
        )
    read = read_path(root, only=set(changes.to_read)) if changes.to_read else None
    with open_store(settings.database, lock_timeout_s=settings.lock_timeout_s) as store:
        if read is not None:
            report = ingest_read(
                store,
                read,
                settings=settings,
                today=today,
                source=str(root),
            )
        else:
            report = _nothing_read(root)
        with store.transaction():
            stamps = {**changes.stamps, **changes.restamped}
            rows = [(p, *stamp) for p, stamp in stamps.items()]
            store.record_source_files(str(root), rows, report.run_id or None)
            store.forget_source_files(changes.removed)
    log.info(
        "%s: %d file(s) read (new or changed), %d unchanged, %d gone",
        root,
        len(changes.to_read),
        changes.unchanged,
        len(changes.removed),
    )
    return report, changes


def _nothing_read(root: Path) -> IngestReport:
    """The report of an ingestion that found no file to read (no run is recorded)."""
    return IngestReport(
        run_id="",
        source=str(root),
        fmt="unchanged",
        rows_read=0,
        inserted=0,
        updated=0,
        unchanged=0,
        rejected=0,
        duplicates=0,
    )
