"""Replaying raw today-price pages saved by `ApiSource` (<folder>/<YYYY-MM-DD>/page-N.json)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from nepse.errors import SourceError
from nepse.sources.api_parse import ApiDayResult, _day_result, _parse_page


class RecordedApiSource:
    """Replays raw today-price pages saved by `ApiSource` (<folder>/<YYYY-MM-DD>/page-N.json)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise SourceError(
                f"recorded API folder {self.folder} does not exist; pass a folder of raw pages "
                "as saved under <data_dir>/raw by an API fetch"
            )

    def __repr__(self) -> str:
        return f"RecordedApiSource({str(self.folder)!r})"

    def has_day(self, day: date) -> bool:
        """True when the folder holds at least one recorded page of `day`."""
        return any((self.folder / day.isoformat()).glob("page-*.json"))

    def fetch_day(self, day: date, *, raw_dir: Path | None = None) -> ApiDayResult:
        """Parse the recorded pages of `day` (the latest copy of each page) like a live fetch."""
        folder = self.folder / day.isoformat()
        latest: dict[int, tuple[int, Path]] = {}
        for path in folder.glob("page-*.json"):
            # save_raw never overwrites: page-0.json, then page-0.1.json, page-0.2.json ...
            parts = path.name.split(".")
            try:
                number = int(parts[0].removeprefix("page-"))
                copy = int(parts[1]) if len(parts) == 3 else 0
            except ValueError:
                continue
            if number not in latest or copy > latest[number][0]:
                latest[number] = (copy, path)
        if not latest:
            raise SourceError(
                f"{folder}: no recorded pages (page-N.json) for {day}; fetch the day from the "
                "API first or backfill it with source 'api'"
            )
        pages = [
            _parse_page(path.read_bytes(), number=n, where=str(path), raw_file=path)
            for n, (_, path) in sorted(latest.items())
        ]
        if [p.number for p in pages] != list(range(len(pages))):
            raise SourceError(f"{folder}: recorded pages {sorted(latest)} are not 0..n-1")
        return _day_result(day, pages, str(folder))
