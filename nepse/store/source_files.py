"""Table family `source_files`: what a folder source's files looked like when last ingested.

One row per file (absolute path) under an ingested folder: its size, modification time and
SHA-256, and the ingestion run that read it (nepse/ingest/changes.py decides what to re-read).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nepse.store.base import now_utc


class SourceFilesMixin:
    """Methods of `Store` for the `source_files` table."""

    _exec: Any

    def source_files(self, root: str) -> dict[str, tuple[int, int, str]]:
        """path -> (size, mtime_ns, sha256) of the files recorded under folder `root`."""
        rows = self._exec(
            "SELECT path, size, mtime_ns, sha256 FROM source_files WHERE root = ?", [root]
        )
        return {path: (size, mtime, digest) for path, size, mtime, digest in rows}

    def record_source_files(
        self, root: str, stamps: Iterable[tuple[str, int, int, str]], run_id: str | None
    ) -> None:
        """Insert or replace the (path, size, mtime_ns, sha256) of files read under `root`."""
        at = now_utc()
        for path, size, mtime, digest in stamps:
            self._exec(
                "INSERT OR REPLACE INTO source_files VALUES (?, ?, ?, ?, ?, ?, ?)",
                [path, root, size, mtime, digest, run_id, at],
            )

    def forget_source_files(self, paths: Iterable[str]) -> None:
        """Drop the rows of files that are gone (their prices stay stored)."""
        for path in paths:
            self._exec("DELETE FROM source_files WHERE path = ?", [path])
