"""Damage a saved model folder the way a bad disk or a killed copy would (for fallback tests)."""

from __future__ import annotations

from pathlib import Path

from nepse.model.lgbm import MODEL_FILE

CUTS = (0.0, 0.1, 0.5, 0.9, 0.999)


def truncate_model_file(folder: Path, keep: float) -> Path:
    """Cut `folder`/model.txt to its first `keep` share of bytes; return the file."""
    path = Path(folder) / MODEL_FILE
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def truncate_and_reseal(folder: Path, keep: float) -> Path:
    """Cut model.txt as `truncate_model_file` does, then regenerate the manifest to match: a
    bad writer's folder, consistent with itself (the checksums cannot tell)."""
    from nepse.model import files
    from nepse.model.final import SAVED_FILES

    path = truncate_model_file(folder, keep)
    files.seal(Path(folder), SAVED_FILES)
    return path
