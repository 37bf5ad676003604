"""Model files sealed with checksums: written at save time, verified before anything reads them.

LightGBM's C++ parser aborts or segfaults on a truncated or corrupt model.txt instead of raising,
which would take the whole run (and its fallback) down. So every saved file's sha256 goes into
`manifest.json` in the same folder, and `verify` checks them before LightGBM opens a file: a
missing manifest, a missing file or a checksum mismatch is a `ModelNotFoundError`, and the
caller's fallback chain runs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from nepse.errors import ModelNotFoundError

MANIFEST_FILE = "manifest.json"
_FIX = "retrain (`nepse train`) or roll back to the previous champion (`nepse models rollback`)"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def seal(folder: Path, names: list[str]) -> dict[str, str]:
    """Write `manifest.json` with the sha256 of each named file in `folder`; return it."""
    folder = Path(folder)
    sums = {name: sha256_file(folder / name) for name in names}
    tmp = folder / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps({"sha256": sums}, indent=2, sort_keys=True) + "\n")
    tmp.replace(folder / MANIFEST_FILE)
    return sums


def verify(folder: Path, names: list[str]) -> None:
    """Raise ModelNotFoundError unless every named file exists and matches the manifest."""
    folder = Path(folder)
    manifest = folder / MANIFEST_FILE
    if not manifest.is_file():
        raise ModelNotFoundError(
            f"model folder {folder} has no {MANIFEST_FILE} (its files cannot be verified); {_FIX}"
        )
    try:
        sums = json.loads(manifest.read_text())["sha256"]
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ModelNotFoundError(
            f"model folder {folder}: {MANIFEST_FILE} unreadable; {_FIX}"
        ) from exc
    for name in names:
        path = folder / name
        if not path.is_file():
            raise ModelNotFoundError(f"model folder {folder} has no {name}; {_FIX}")
        if name not in sums:
            raise ModelNotFoundError(
                f"model folder {folder}: {name} is not in {MANIFEST_FILE}; {_FIX}"
            )
        got = sha256_file(path)
        if got != sums[name]:
            raise ModelNotFoundError(
                f"model file {path} is corrupt (sha256 {got[:12]}..., saved as "
                f"{str(sums[name])[:12]}...); {_FIX}"
            )
