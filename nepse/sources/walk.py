"""Which files a read covers: one file, or every file under a folder, links followed.

An entry that cannot be read (a dangling link, a link loop, a folder or file without permission,
a FIFO or device) is a `SourceError` naming it and why: a price file we cannot read must not be
left out silently (docs/formats.md). A folder reached again through another link is read once.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from nepse.errors import SourceError
from nepse.sources.formats import CSV_SUFFIXES, PARQUET_SUFFIXES


def files_under(path: Path, skipped: list[str]) -> list[Path]:
    """The files to read at `path` (a file, or a folder walked recursively, links followed).

    An entry that cannot be read (a dangling link, a link loop, a folder without permission,
    a FIFO or device) stops the read with a SourceError naming it: a price file we cannot read
    must not be left out silently. A folder reached again through another link is read once
    (the second path is listed in `skipped`). Hidden entries and Markdown notes are not
    data and are passed over (`_not_data`).
    """
    try:
        st = path.stat()
    except OSError as exc:
        if isinstance(exc, FileNotFoundError) and not path.is_symlink():
            raise SourceError(
                f"{path}: no such file or folder; check the path (relative to {Path.cwd()})"
            ) from exc
        raise SourceError(_unreadable(path, exc)) from exc
    if stat.S_ISDIR(st.st_mode):
        found: list[Path] = []
        _walk(path, frozenset({(st.st_dev, st.st_ino)}), {(st.st_dev, st.st_ino)}, found, skipped)
        return sorted(found)
    if not stat.S_ISREG(st.st_mode):
        raise SourceError(f"{path}: not a regular file or folder; give a CSV or Parquet file")
    if path.suffix.lower() not in CSV_SUFFIXES | PARQUET_SUFFIXES:
        raise SourceError(
            f"{path}: not a price file (only .csv, .parquet and .pq are read); "
            "give a CSV or Parquet file, or a folder holding them"
        )
    return [path]


def _walk(
    folder: Path,
    ancestors: frozenset[tuple[int, int]],
    seen: set[tuple[int, int]],
    found: list[Path],
    skipped: list[str],
) -> None:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        raise SourceError(_unreadable(folder, exc)) from exc
    for entry in entries:
        if _not_data(entry.name):
            continue
        path = Path(entry.path)
        try:
            st = path.stat()  # follows links: a link counts as what it points to
        except OSError as exc:
            raise SourceError(_unreadable(path, exc)) from exc
        key = (st.st_dev, st.st_ino)
        if stat.S_ISDIR(st.st_mode):
            if key in ancestors:
                raise SourceError(
                    f"{path}: a symbolic link to {os.path.realpath(path)}, a folder that holds "
                    "it, so the folder would be read forever (a link loop); remove the link"
                )
            if key in seen:
                skipped.append(f"{path} (a link to {os.path.realpath(path)}, read once already)")
                continue
            seen.add(key)
            _walk(path, ancestors | {key}, seen, found, skipped)
        elif stat.S_ISREG(st.st_mode):
            found.append(path)
        else:
            raise SourceError(
                f"{path}: not a regular file (a FIFO, socket or device), so it cannot be read "
                "as data; remove it from the folder"
            )


def _not_data(name: str) -> bool:
    """Hidden entries (`.git`, the sample's `.complete`, the dataset marker) and a folder's
    Markdown notes (README.md) are passed over without a word: they are never price files, and
    a warning about them on every run would teach people to ignore the warning."""
    return name.startswith(".") or name.lower().endswith(".md")


def _unreadable(path: Path, exc: OSError) -> str:
    """Why `path` cannot be read, in words, with what to do."""
    link = f"a symbolic link to {os.readlink(path)!r}, " if path.is_symlink() else ""
    if exc.errno == errno.ELOOP:
        why = "which points back into itself (a link loop); remove or fix the link"
    elif exc.errno == errno.ENOENT and link:
        why = "which does not exist (a dangling link); restore its target or remove the link"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        why = "which cannot be read (permission denied); check its permissions"
    else:
        why = f"which cannot be read ({exc.strerror or exc})"
    return f"{path}: {link}{why}"
