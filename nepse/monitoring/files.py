"""Files of the drift step and its pages, written atomically.

Each file is written under a temporary name in its own folder, flushed to disk, then renamed over
the old one: a reader (the report server, `evidently ui`, tomorrow's run) sees the previous file
or the new one, never half of one. A failed write (a full disk, most often) removes the
temporary file, leaves the previous file as it was, and raises an `OSError` that names the path
and the cause, e.g. "could not write /data/reports/index.html: no space left on device".
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

import polars as pl

from nepse.atomic import os_error_number


def _atomic(path: Path, write: Callable[[Path], None]) -> Path:
    """Call `write(tmp)` for a temporary file beside `path`, then rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:  # what the disk must hold before the rename
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        code = os_error_number(exc)
        if code is None:
            raise
        raise OSError(
            code, f"could not write {path}: {os.strerror(code).lower()} (the previous file is kept)"
        ) from exc
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    data = text.encode("utf-8")

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(data)

    return _atomic(path, write)


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> Path:
    """Write `frame` as Parquet to `path` atomically."""
    return _atomic(path, frame.write_parquet)
