"""The `models` table: the model registry's rows (one per version, with its status and metrics).

Statuses go candidate -> champion -> retired; at most one champion exists at a time. The rules
(when to promote, what a rollback restores) live in `nepse.model.registry`; this module only
reads and writes rows.
"""

from __future__ import annotations

import json
from typing import Any

from nepse.store.base import StoreBase, now_utc

MODEL_COLUMNS = (
    "version",
    "created_at",
    "status",
    "train_start",
    "train_end",
    "as_of",
    "data_fingerprint",
    "feature_spec",
    "params",
    "library_versions",
    "metrics",
    "baseline_metrics",
    "rank_ic",
    "path",
    "reason",
    "promoted_at",
    "previous_champion",
)
JSON_COLUMNS = ("feature_spec", "params", "library_versions", "metrics", "baseline_metrics")


class ModelsMixin(StoreBase):
    """Registry rows: insert, read, crown and retire model versions."""

    def _model_where(self, where: str, params: list[Any]) -> dict[str, Any] | None:
        rows = self._exec(f"SELECT {', '.join(MODEL_COLUMNS)} FROM models {where}", params)
        if not rows:
            return None
        row = dict(zip(MODEL_COLUMNS, rows[0], strict=True))
        for c in JSON_COLUMNS:
            if isinstance(row[c], str):
                row[c] = json.loads(row[c])
        return row

    def insert_model(self, row: dict[str, Any]) -> None:
        """Add one version's row (JSON columns given as Python values)."""
        self._require_writable("register a model")
        values = [
            json.dumps(row.get(c)) if c in JSON_COLUMNS else row.get(c) for c in MODEL_COLUMNS
        ]
        with self.transaction():
            self._exec(
                f"INSERT INTO models ({', '.join(MODEL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(MODEL_COLUMNS))})",
                values,
            )

    def model_row(self, version: str) -> dict[str, Any] | None:
        """One version's row (JSON decoded), or None when unknown."""
        return self._model_where("WHERE version = ?", [version])

    def champion_row(self) -> dict[str, Any] | None:
        """The current champion's row, or None."""
        return self._model_where("WHERE status = 'champion' ORDER BY promoted_at DESC LIMIT 1", [])

    def model_versions(self) -> list[str]:
        """Every registered version, newest first."""
        return [r[0] for r in self._exec("SELECT version FROM models ORDER BY version DESC")]

    def count_champions(self) -> int:
        """How many rows are champion (0 or 1 unless something is wrong)."""
        return self._exec("SELECT count(*) FROM models WHERE status = 'champion'")[0][0]

    def set_champion(self, version: str, *, previous: str | None, reason: str | None) -> None:
        """Retire any champion and crown `version` (recording what it replaced), atomically."""
        self._require_writable("promote a model")
        with self.transaction():
            self._exec("UPDATE models SET status = 'retired' WHERE status = 'champion'")
            self._exec(
                "UPDATE models SET status = 'champion', promoted_at = ?, previous_champion = ?, "
                "reason = coalesce(?, reason) WHERE version = ?",
                [now_utc().replace(microsecond=0), previous, reason, version],
            )

    def rollback_champion(self, current: str, restore: str) -> None:
        """Retire `current` and make `restore` champion again, atomically.

        The restored champion keeps its own previous_champion, so rollbacks can chain.
        """
        self._require_writable("roll back a model")
        with self.transaction():
            self._exec(
                "UPDATE models SET status = 'retired', reason = ? WHERE version = ?",
                [f"rolled back to {restore}", current],
            )
            self._exec(
                "UPDATE models SET status = 'champion', promoted_at = ? WHERE version = ?",
                [now_utc().replace(microsecond=0), restore],
            )

    def set_model_path(self, old_root: str, new_root: str) -> None:
        """Rewrite model folder paths after the data folder moved (copies in tests, restores)."""
        self._require_writable("move model folders")
        with self.transaction():
            self._exec("UPDATE models SET path = replace(path, ?, ?)", [old_root, new_root])
