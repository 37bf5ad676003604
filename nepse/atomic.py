"""Files replaced whole or not at all: a reader never sees half a file, a full disk no 0-byte one.

`atomic_file(path)` yields a binary handle on a temporary file beside `path`; when the block
ends it is flushed, fsynced and renamed over `path` (and the folder fsynced), so `path` holds
either its old bytes or all the new ones, even after a crash or a power cut. A failure leaves
`path` as it was and removes the temporary file; a full disk (or quota) is a NepseError that
says so, names the file and keeps the OS error as its cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import polars as pl

from nepse.errors import NepseError

_FULL = {errno.ENOSPC, errno.EDQUOT}


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[BinaryIO]:
    """A binary handle whose bytes replace `path` atomically when the block ends cleanly."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if exc.errno in _FULL:
            raise NepseError(
                f"cannot write {path}: the disk is full ({exc.strerror}); the file was not "
                "replaced (its previous version, if any, is intact). Free space and run again"
            ) from exc
        raise
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def write_atomic(path: str | Path, data: bytes) -> Path:
    """Replace `path` with `data` atomically (see `atomic_file`); return the path."""
    with atomic_file(path) as fh:
        fh.write(data)
    return Path(path)


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    """Replace `path` with `frame` as Parquet atomically (see `atomic_file`); return the path.
    Polars writes through the handle, so a full disk is the NepseError above, not Polars'
    ComputeError."""
    with atomic_file(path) as fh:
        try:
            frame.write_parquet(fh)
        except pl.exceptions.ComputeError as exc:  # Polars wraps the handle's OSError
            code = os_error_number(exc)
            if code is None:
                raise
            raise OSError(code, os.strerror(code)) from exc
    return Path(path)


def os_error_number(exc: BaseException) -> int | None:
    """The OS error number behind `exc`: an OSError's, or one a library names in its message
    (Polars: "... No space left on device (os error 28)")."""
    if isinstance(exc, OSError):
        return exc.errno or errno.EIO
    found = re.search(r"\(os error (\d+)\)", str(exc))
    return int(found.group(1)) if found else None


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (on file systems that support it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
