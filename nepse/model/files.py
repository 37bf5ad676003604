"""Model files sealed with checksums: written at save time, verified before anything reads them.

LightGBM's C++ parser aborts or segfaults on a truncated or corrupt model.txt instead of raising,
which would take the whole run (and its fallback) down. So every saved file's sha256 goes into
`manifest.json` in the same folder, and `verify` checks them before LightGBM opens a file: a
missing manifest, a missing file or a checksum mismatch is a `ModelNotFoundError`, and the
caller's fallback chain runs. Files written later into the folder that the model's monitoring
depends on (the drift baseline: its alarm lines and reference) are added with
`add_to_manifest` and checked the same way when read (`verified_bytes`: the bytes checked are
the bytes parsed). Checksums catch accidents, not a writer that reseals: a model.txt cut short
but consistent with its manifest is caught by nepse/model/probe.py.
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
    _write_manifest(folder, sums)
    return sums


def add_to_manifest(folder: Path, names: list[str]) -> dict[str, str]:
    """Add (or update) the named files' sha256 in `folder`'s existing manifest; return it.

    For files written after the model (its drift baseline), which its alarms depend on."""
    folder = Path(folder)
    sums = {**_manifest(folder), **{name: sha256_file(folder / name) for name in names}}
    _write_manifest(folder, sums)
    return sums


def is_sealed(folder: Path, name: str) -> bool:
    """True when `folder` has a manifest that lists `name`."""
    try:
        return name in _manifest(Path(folder))
    except ModelNotFoundError:
        return False


def _write_manifest(folder: Path, sums: dict[str, str]) -> None:
    tmp = folder / (MANIFEST_FILE + ".tmp")
    tmp.write_text(json.dumps({"sha256": sums}, indent=2, sort_keys=True) + "\n")
    tmp.replace(folder / MANIFEST_FILE)


def verify(folder: Path, names: list[str]) -> None:
    """Raise ModelNotFoundError unless every named file exists and matches the manifest."""
    for name in names:
        verified_bytes(folder, name)


def verified_bytes(folder: Path, name: str) -> bytes:
    """The bytes of `folder`/`name`, read once and checked against the manifest's sha256 (so
    what is checked is exactly what the caller parses); ModelNotFoundError otherwise."""
    folder = Path(folder)
    sums = _manifest(folder)
    path = folder / name
    if not path.is_file():
        raise ModelNotFoundError(f"model folder {folder} has no {name}; {_FIX}")
    if name not in sums:
        raise ModelNotFoundError(f"model folder {folder}: {name} is not in {MANIFEST_FILE}; {_FIX}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelNotFoundError(
            f"model file {path} cannot be read ({exc.strerror}); {_FIX}"
        ) from exc
    got = hashlib.sha256(data).hexdigest()
    if got != sums[name]:
        raise ModelNotFoundError(
            f"model file {path} is corrupt (sha256 {got[:12]}..., saved as "
            f"{str(sums[name])[:12]}...); {_FIX}"
        )
    return data


def _manifest(folder: Path) -> dict[str, str]:
    manifest = folder / MANIFEST_FILE
    if not manifest.is_file():
        raise ModelNotFoundError(
            f"model folder {folder} has no {MANIFEST_FILE} (its files cannot be verified); {_FIX}"
        )
    try:
        sums = json.loads(manifest.read_text())["sha256"]
        if not isinstance(sums, dict):
            raise TypeError("sha256 is not a mapping")
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ModelNotFoundError(
            f"model folder {folder}: {MANIFEST_FILE} unreadable; {_FIX}"
        ) from exc
    return sums
