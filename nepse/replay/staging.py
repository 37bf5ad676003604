"""A price source staged for a replay: each trading day's rows, released one day at a time.

`stage_source` reads the source once, with the project's own readers, and writes under the
replay folder:

- `source/prices/history.parquet`: every price row dated before the replay's first day;
- `pending/<day>.parquet`: the rows of each day of the source from the first to the last day
  of the replay (canonical Parquet: symbol, date, open, high, low, close, volume, turnover,
  trades), moved into `source/prices/` by `release_day` when the replay reaches that day;
- `pending/actions.parquet`: every line of the corporate-action files (ShareSansar dividends,
  rights) with the day it becomes visible: its book-closure date (for rights the opening date,
  which the reader takes as the book closure); `release_day` writes each such file into
  `source/` holding only the lines visible by the day, in their original format;
- copies of any securities list (`CompanyList.csv`), which carries no date.

The runs ingest `source/` as a folder, so the daily run of a day reads the day's new file and
any action file that gained a line (`nepse.ingest.changes`): nothing dated after the day is
in the folder when that day's run reads it. Rows the readers could not parse (no date to file
them under) are not replayed; `Staged.unreadable` counts them.
"""

from __future__ import annotations

import csv
import logging
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from nepse.errors import SourceError
from nepse.schema import DATASET_MARKER, PRICE_COLUMNS
from nepse.sources.formats import CORPORATE_ACTIONS, FORMATS, SECURITIES, detect_format
from nepse.sources.readers import read_path

PRICES_DIR = Path("source") / "prices"
HISTORY = "history.parquet"
ACTION_LINES = "actions.parquet"
ACTION_SCHEMA = {"path": pl.String, "n": pl.Int64, "text": pl.String, "visible": pl.Date}


@dataclass(frozen=True)
class Staged:
    """What staging found in the source (small; the replay's state keeps it)."""

    days: tuple[date, ...]
    """The source's trading days from the replay's first to its last day."""
    history_end: date | None
    """The last day before the replay's first day (None: no history)."""
    history_rows: int
    rows: int
    """Price rows of the replayed days."""
    action_lines: int
    unreadable: int
    """Rows of the source the readers rejected before any date was known (not replayed)."""


def stage_source(source: Path, folder: Path, start: date, end: date) -> Staged:
    """Read `source` once and stage it under `folder` for a replay of start..end."""
    read = read_path(source)
    prices = read.prices.select(list(PRICE_COLUMNS))
    in_range = prices.filter(pl.col("date").is_between(start, end))
    days = tuple(sorted(in_range.get_column("date").unique().to_list()))
    if not days:
        raise SourceError(
            f"{source}: no price rows dated {start}..{end}; choose a range the source covers "
            f"(its rows run {prices['date'].min()}..{prices['date'].max()})"
        )
    history = prices.filter(pl.col("date") < start)
    pending = folder / "pending"
    pending.mkdir(parents=True, exist_ok=True)
    (folder / PRICES_DIR).mkdir(parents=True, exist_ok=True)
    _write(history.sort("date", "symbol"), folder / PRICES_DIR / HISTORY, pending)
    for (day,), rows in in_range.sort("date", "symbol").group_by("date", maintain_order=True):
        _write(rows, pending / f"{day}.parquet", pending)
    lines = _action_lines(source)
    _write(lines, pending / ACTION_LINES, pending)
    if source.is_dir() and (source / DATASET_MARKER).is_file():  # the sample stays the sample
        shutil.copyfile(source / DATASET_MARKER, folder / "source" / DATASET_MARKER)
    for path in _files_of_kind(source, SECURITIES):
        target = folder / "source" / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    history_end = history.get_column("date").max() if history.height else None
    _write_actions(folder, lines, None if history_end is None else history_end)
    return Staged(
        days=days,
        history_end=history_end,
        history_rows=history.height,
        rows=in_range.height,
        action_lines=lines.height,
        unreadable=read.rejects.height,
    )


def release_day(folder: Path, day: date) -> Path:
    """Put `day`'s rows, and every corporate-action line visible by `day`, into `source/`."""
    pending = folder / "pending"
    target = folder / PRICES_DIR / f"{day}.parquet"
    tmp = pending / f".{day}.release"
    shutil.copyfile(pending / f"{day}.parquet", tmp)
    tmp.replace(target)
    _write_actions(folder, pl.read_parquet(pending / ACTION_LINES), day)
    return target


def _write(frame: pl.DataFrame, path: Path, tmp_dir: Path) -> None:
    """Write `frame` as Parquet at `path` under a temporary name first (a kill leaves no half
    file where a run could read it)."""
    tmp = tmp_dir / f".{path.name}.tmp"
    frame.write_parquet(tmp)
    tmp.replace(path)


def _files_of_kind(source: Path, kind: str) -> list[Path]:
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*.csv"))
    return [p for p in files if _kind(p) == kind]


def _kind(path: Path) -> str | None:
    """The kind of file the header names (prices, corporate actions, securities), or None."""
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        header = next(csv.reader(handle), [])
    try:
        return FORMATS[detect_format(header)].kind if header else None
    except SourceError:
        return None


def _action_lines(source: Path) -> pl.DataFrame:
    """Every data line of the source's corporate-action files with the day it is visible from:
    the earliest book-closure date of the actions the reader makes of the line alone (none: a
    line without an action, visible from the start)."""
    rows = []
    root = source if source.is_dir() else source.parent
    quiet = logging.getLogger(read_path.__module__)
    level = quiet.level
    quiet.setLevel(logging.WARNING)  # one line per probe would drown the run's log
    with tempfile.TemporaryDirectory(prefix="nepse-replay-") as tmp:
        for path in _files_of_kind(source, CORPORATE_ACTIONS):
            rel = path.relative_to(root).as_posix()
            header, *body = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
            rows.append({"path": rel, "n": 0, "text": header, "visible": None})
            probe = Path(tmp) / path.parent.name / path.name  # the folder names the symbol
            probe.parent.mkdir(exist_ok=True)
            for n, text in enumerate(body, start=1):
                if not text.strip():
                    continue
                probe.write_text(f"{header}\n{text}\n", encoding="utf-8")
                dates = read_path(probe).corporate_actions.get_column("book_closure_date")
                rows.append({"path": rel, "n": n, "text": text, "visible": dates.min()})
    quiet.setLevel(level)
    return pl.DataFrame(rows, schema=ACTION_SCHEMA)


def _write_actions(folder: Path, lines: pl.DataFrame, day: date | None) -> None:
    """Write each action file holding its lines visible by `day` (only files that changed)."""
    visible = lines.filter(
        (pl.col("n") == 0)
        | pl.col("visible").is_null()
        | ((pl.col("visible") <= day) if day is not None else pl.lit(False))
    )
    for (rel,), part in visible.sort("path", "n").group_by("path", maintain_order=True):
        if part.height == 1:  # the header alone: nothing to say yet
            continue
        text = "\n".join(part.get_column("text")) + "\n"
        target = folder / "source" / "actions" / rel
        if target.is_file() and target.read_text(encoding="utf-8") == text:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = folder / "pending" / ".action.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
