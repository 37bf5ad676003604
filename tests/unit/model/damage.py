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
