"""What one ingestion run did: counts that add up, reasons, flags, conflicts, and a summary."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from nepse.errors import DataQualityError
from nepse.schema import REASONS


@dataclass
class IngestReport:
    """What one ingestion run did; `rows_read == inserted+updated+unchanged+rejected+duplicates`.

    inserted/updated/unchanged count this source's observations: a row the source had not
    sent before, a row it corrects, a row it repeats. `prices_changed` counts resolved `prices`
    rows this run inserted or changed (a lower-precedence source may change none).
    """

    run_id: str
    source: str
    fmt: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    duplicates: int
    reasons: dict[str, int] = field(default_factory=dict)
    """Rejected rows per reason code, parse rejects included."""
    flagged: dict[str, int] = field(default_factory=dict)
    """Rows of this input carrying each flag as stored after the run (flags are recomputed)."""
    min_date: date | None = None
    """Earliest date among the rows kept (clean), None when nothing was kept."""
    max_date: date | None = None
    symbols: int = 0
    """Distinct symbols among the rows kept."""
    prices_changed: int = 0
    """Resolved `prices` rows inserted or changed by this run."""
    conflicts: dict[str, int] = field(default_factory=dict)
    """Disagreements beyond the tolerance between sources, per column, on this run's keys."""
    dataset: str = "real"
    securities: dict[str, int] = field(default_factory=dict)
    """Securities-list rows of this input: read, and new/changed/unchanged in the history."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    seconds: float = 0.0
    """Wall time of the whole ingestion, validation and commit included."""

    def check_identity(self) -> None:
        """Raise DataQualityError unless every row read is in exactly one outcome."""
        total = self.inserted + self.updated + self.unchanged + self.rejected + self.duplicates
        if self.rows_read != total:
            raise DataQualityError(
                f"ingest identity broken for run {self.run_id}: rows_read {self.rows_read} != "
                f"inserted {self.inserted} + updated {self.updated} + unchanged "
                f"{self.unchanged} + rejected {self.rejected} + duplicates {self.duplicates} = "
                f"{total}; nothing was stored (the run's transaction rolled back)"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain values (dates as ISO text) for JSON artifacts."""
        out = asdict(self)
        for key in ("min_date", "max_date", "started_at", "finished_at"):
            if out[key] is not None:
                out[key] = out[key].isoformat()
        return out

    def summary(self) -> str:
        """One log line: where from, and every outcome count."""
        return (
            f"ingested {self.source}: {self.rows_read} read, {self.inserted} inserted, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected, "
            f"{self.duplicates} duplicates, {self.prices_changed} prices changed, "
            f"{sum(self.conflicts.values())} conflicts, {self.securities.get('read', 0)} "
            f"securities rows in {self.seconds:.2f} s"
        )

    def to_markdown(self, top: int = 10) -> str:
        """A short Markdown summary: outcomes, top rejection reasons, flags, conflicts."""
        dates = f"{self.min_date} .. {self.max_date}" if self.min_date is not None else "(no rows)"
        lines = [
            f"## Ingestion run `{self.run_id}`",
            "",
            f"- source: `{self.source}` (format `{self.fmt}`, {self.dataset} data)",
            f"- dates: {dates}; symbols: {self.symbols}",
            f"- resolved prices inserted or changed: {self.prices_changed:,}",
            f"- took {self.seconds:.2f} s",
            "",
            "| outcome | rows |",
            "| --- | ---: |",
        ]
        for name in ("rows_read", "inserted", "updated", "unchanged", "rejected", "duplicates"):
            lines.append(f"| {name} | {getattr(self, name):,} |")
        if self.securities:
            lines += ["", "| securities list | rows |", "| --- | ---: |"]
            lines += [f"| {k} | {n:,} |" for k, n in self.securities.items()]
        if self.reasons:
            lines += ["", "| rejection reason | rows | meaning |", "| --- | ---: | --- |"]
            ranked = sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            for reason, n in ranked[:top]:
                lines.append(f"| {reason} | {n:,} | {REASONS.get(reason, '')} |")
            if len(ranked) > top:
                rest = sum(n for _, n in ranked[top:])
                lines.append(f"| (other {len(ranked) - top}) | {rest:,} | |")
        if self.flagged:
            lines += ["", "| flag | rows |", "| --- | ---: |"]
            lines += [f"| {flag} | {n:,} |" for flag, n in sorted(self.flagged.items())]
        if self.conflicts:
            lines += [
                "",
                "| column where sources disagree | keys | |",
                "| --- | ---: | --- |",
            ]
            lines += [
                f"| {col} | {n:,} | see table price_conflicts |"
                for col, n in sorted(self.conflicts.items())
            ]
        return "\n".join(lines) + "\n"
