"""Reading NEPSE price files and folders: load each file's lines, detect its format, parse.

Every file is read as text (or Parquet), split into physical lines once, and parsed with
vectorised Polars expressions: files of one format and header are parsed together in a single
pass. Each price row keeps `source`, `line` and `raw`; a row that cannot be parsed goes to
`rejects` with a detail naming the field and the bad value. Quality rules are not applied here
(see nepse/ingest/quality.py). docs/formats.md documents every format.
"""

from __future__ import annotations

import csv
import logging
import re
import time
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

import polars as pl

from nepse.errors import SourceError
from nepse.schema import (
    CORPORATE_ACTION_SCHEMA,
    DATASET_MARKER,
    DATASET_REAL,
    REJECT_SCHEMA,
    SYMBOL_PATTERN,
    ReadResult,
    conform,
)
from nepse.sources import bigfile
from nepse.sources.formats import (
    CSV_SUFFIXES,
    FORMATS,
    PARQUET_SUFFIXES,
    PRICES,
    Format,
    _norm,
    detect_format,
    symbol_from_path,
)
from nepse.sources.parse import _Loaded, _parse_prices, _split_fields
from nepse.sources.parse_actions import _PARSERS
from nepse.sources.securities import refuse_disagreeing_lists
from nepse.sources.text import decode
from nepse.sources.walk import files_under

log = logging.getLogger(__name__)


def _load_csv(path: Path) -> _Loaded | None:
    """Split a CSV file into lines and detect its format; None if it has no header line."""
    source = str(path)
    try:
        text = decode(path.read_bytes(), source)
    except OSError as exc:
        raise SourceError(f"{source}: cannot read the file ({exc}); check its permissions") from exc
    # Only \n (after CRLF folding) ends a line, so `line` matches what an editor shows.
    if "\r" in text:
        # CRLF (Windows) and a lone CR (old Mac exports) both end a line.
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _loaded_from_text(text, path)


def _loaded_from_text(text: str, path: Path, *, line: int = 1) -> _Loaded | None:
    """The header found at the top of `text` (its first line is physical line `line`), the
    format it names and the lines after it; None when `text` holds no header line."""
    source = str(path)
    start, number = 0, line
    while True:  # to the first non-blank line, the header (blank lines are not data)
        end = text.find("\n", start)
        header_line = text[start:] if end < 0 else text[start:end]
        if header_line.strip():
            break
        if end < 0:
            return None
        start, number = end + 1, number + 1
    try:
        header_fields = next(csv.reader([header_line.strip().lstrip("\ufeff")]))
    except csv.Error as exc:
        raise SourceError(f"{source}: line {number}: not a CSV header ({exc})") from exc
    _refuse_repeated_columns(header_fields, f"{source}: line {number}")
    fmt = FORMATS[detect_format(header_fields, source=source)]
    body = "" if end < 0 else text[end + 1 :]
    return _Loaded(
        source=source,
        fmt=fmt,
        header=tuple(_norm(h) for h in header_fields),
        path_symbol=_path_symbol(path, fmt),
        first_line=number + 1,
        body=body,
        cut_line=_cut_line(body, number + 1),
    )


def _refuse_repeated_columns(header: list[str], where: str) -> None:
    """SourceError when a header names a column twice: which copy holds the value is unknown."""
    first: dict[str, int] = {}
    for i, name in enumerate(header, 1):
        key = _norm(name)
        if key in first:
            raise SourceError(
                f"{where}: the header names column {name.strip()!r} twice (columns {first[key]} "
                f"and {i}); which one holds the value is unknown, so the file is not read. "
                "Remove or rename one of them"
            )
        first[key] = i


def _path_symbol(path: Path, fmt: Format) -> str:
    """The symbol `path` names, checked, when the format's rows carry none (else unused)."""
    symbol = symbol_from_path(path)
    if fmt.symbol_in_data or fmt.kind == "securities" or re.match(SYMBOL_PATTERN, symbol):
        return symbol
    raise SourceError(
        f"{path}: the file's rows carry no symbol and its name gives {symbol!r}, which is not a "
        "NEPSE symbol (upper-case letters and digits, e.g. ADBL). Rename the file to "
        "<SYMBOL>.csv or put it in a folder named after the symbol (<SYMBOL>/prices.csv)"
    )


def _read_in_slices(path: Path) -> ReadResult | None:
    """A large price file parsed a slice at a time (nepse/sources/bigfile.py), its rows kept
    without raw text (`fill_raw` reads it back for the rows that are rejected). None when the
    file must be read whole: no header in its first slice, CR-only line ends, or a format whose
    rows are judged together (slash dates decided per file) or that is not prices."""
    parts = bigfile.slices(path)
    text, line, last = next(parts)
    if "\r" in text:
        return None
    loaded = _loaded_from_text(text, path, line=line)
    if loaded is None or loaded.fmt.us_dates or loaded.fmt.kind != PRICES:
        return None
    if not last:
        loaded = replace(loaded, cut_line=None)
    results = [_without_raw(_parse_group([loaded]))]
    for text, line, last in parts:
        part = replace(
            loaded,
            first_line=line,
            body=text,
            cut_line=_cut_line(text, line) if last else None,
        )
        results.append(_without_raw(_parse_group([part])))
    result = ReadResult.concat(results, fmt=loaded.fmt.name)
    result.sources = [loaded.source]
    return bigfile.file_decimal_comma(result)


def _without_raw(result: ReadResult) -> ReadResult:
    result.prices = result.prices.with_columns(raw=pl.lit(None, dtype=pl.String))
    return result


def _cut_line(body: str, first_line: int) -> int | None:
    """Line number of a last line that may be cut off: no final newline, last field short.

    A file cut mid-write (a copy interrupted, a download stopped) ends inside its last field:
    `8059207.3` becomes `80`. Such a line is kept out (quarantined), never stored as a value.
    """
    if not body or body.endswith("\n"):
        return None
    lines = [ln for ln in body.split("\n") if ln.strip()]
    if len(lines) < 2:
        return None
    last, prev = lines[-1].rsplit(",", 1)[-1].strip(), lines[-2].rsplit(",", 1)[-1].strip()
    if len(last) * 2 >= len(prev):
        return None
    return first_line + body.count("\n")


def _load_parquet(path: Path) -> _Loaded:
    """Read a Parquet file as strings, so it goes through the same parsing as CSV."""
    source = str(path)
    try:
        df = pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"{source}: not a readable Parquet file ({exc})") from exc
    fmt = FORMATS[detect_format(df.columns, source=source)]
    fields = df.select(
        raw=pl.struct(pl.all()).struct.json_encode(),
        **{f"f{i}": pl.col(c).cast(pl.String).str.strip_chars() for i, c in enumerate(df.columns)},
    )
    return _Loaded(
        source=source,
        fmt=fmt,
        header=tuple(_norm(c) for c in df.columns),
        path_symbol=_path_symbol(path, fmt),
        fields=fields.with_columns(n_fields=pl.lit(df.width, dtype=pl.UInt32)),
    )


def _lines_frame(group: list[_Loaded]) -> pl.DataFrame:
    """_row, source, path_symbol, line, raw for every line after the header in `group`'s CSVs."""
    files = pl.DataFrame(
        {
            "source": [item.source for item in group],
            "path_symbol": [item.path_symbol for item in group],
            "first": [item.first_line for item in group],
            "body": [item.body for item in group],
        },
        schema={
            "source": pl.String,
            "path_symbol": pl.String,
            "first": pl.Int64,
            "body": pl.String,
        },
    )
    return (
        files.select(
            "source",
            "path_symbol",
            line=pl.int_ranges(
                "first", pl.col("first") + pl.col("body").str.count_matches("\n", literal=True) + 1
            ),
            raw=pl.col("body").str.split("\n"),
        )
        .explode("line", "raw")
        .with_row_index("_row")
    )


def _parquet_frame(group: list[_Loaded]) -> pl.DataFrame:
    """The Parquet files of `group` with the same columns as a split CSV group."""
    return pl.concat(
        [
            item.fields.with_columns(
                source=pl.lit(item.source),
                path_symbol=pl.lit(item.path_symbol),
                line=pl.int_range(2, item.fields.height + 2, dtype=pl.Int64),
            )
            for item in group
            if item.fields is not None
        ],
        how="diagonal_relaxed",
    ).with_row_index("_row")


def _parse_group(group: list[_Loaded]) -> ReadResult:
    """Parse the lines of files sharing one format and header in a single vectorised pass."""
    first = group[0]
    if first.fields is None:
        frame = _lines_frame(group)
        lf = (
            frame.lazy()
            .filter(pl.col("raw").str.strip_chars().str.len_bytes() > 0)
            .pipe(
                _split_fields,
                len(first.header),
                any_quoted=bool(frame["raw"].str.contains('"', literal=True).any()),
            )
        )
    else:
        lf = _parquet_frame(group).lazy()
    result = _PARSERS.get(first.fmt.name, _parse_prices)(lf, first)
    result.sources = [g.source for g in group]
    cut = [(g.source, g.cut_line) for g in group if g.cut_line is not None]
    if cut and result.prices.height:
        result = _quarantine_cut(result, cut)
    return result


def _quarantine_cut(result: ReadResult, cut: list[tuple[str, int]]) -> ReadResult:
    """Move price rows on lines that may be cut off to rejects (`maybe_truncated`)."""
    keys = pl.DataFrame(cut, schema={"source": pl.String, "line": pl.Int64}, orient="row")
    hit = result.prices.join(keys, on=["source", "line"], how="semi")
    if not hit.height:
        return result
    moved = hit.with_columns(
        reason=pl.lit("maybe_truncated"),
        detail=pl.lit(
            "last line of a file without a final newline, and its last field is less than "
            "half as long as the line before's: the file may have been cut off mid-write"
        ),
    )
    return ReadResult(
        fmt=result.fmt,
        prices=result.prices.join(keys, on=["source", "line"], how="anti"),
        rejects=pl.concat([result.rejects, conform(moved, REJECT_SCHEMA)]),
        corporate_actions=result.corporate_actions,
        securities=result.securities,
        sources=result.sources,
        skipped=result.skipped,
    )


def _dataset_of(root: Path) -> str:
    """'sample' when `root` (or a folder above it) holds the devdata marker, else 'real'."""
    for folder in (root if root.is_dir() else root.parent, *root.parents):
        marker = folder / DATASET_MARKER
        if marker.is_file():
            return marker.read_text(encoding="utf-8").strip() or DATASET_REAL
    return DATASET_REAL


# --------------------------------------------------------------------------- public API


def read_path(path: str | Path, *, only: Collection[Path] | None = None) -> ReadResult:
    """Read one price file or every file under a folder, each in the format its header names
    (`only`: just these files of the folder, those that changed: nepse/ingest/changes.py)."""
    started = time.perf_counter()
    root = Path(path)
    loaded: list[_Loaded] = []
    whole: list[ReadResult] = []  # large files, parsed already, a slice at a time
    skipped: list[str] = []
    files = files_under(root, skipped)
    for file in files if only is None else [f for f in files if f in only]:
        suffix = file.suffix.lower()
        if suffix in CSV_SUFFIXES and file.stat().st_size > bigfile.BIG_FILE_BYTES:
            big = _read_in_slices(file)
            if big is not None:
                whole.append(big)
                continue
        if suffix in CSV_SUFFIXES:
            item = _load_csv(file)
            if item is None:
                skipped.append(str(file))
                continue
        elif suffix in PARQUET_SUFFIXES:
            item = _load_parquet(file)
        else:
            skipped.append(str(file))
            continue
        loaded.append(item)
    if skipped:
        log.warning(
            "skipped %d entries (not CSV/Parquet, no header line, or a folder read already): %s",
            len(skipped),
            ", ".join(skipped),
        )
    groups: dict[tuple[str, tuple[str, ...], bool], list[_Loaded]] = {}
    for item in loaded:
        groups.setdefault((item.fmt.name, item.header, item.fields is None), []).append(item)
    results = [*whole, *(_parse_group(group) for group in groups.values())]
    refuse_disagreeing_lists([r.securities for r in results], [r.sources for r in results])
    result = ReadResult.concat(results) if results else ReadResult(fmt="empty")
    result.sources = [*(r.sources[0] for r in whole), *(item.source for item in loaded)]
    result.skipped = skipped
    result.dataset = _dataset_of(root)
    result.corporate_actions = _drop_repeated_actions(result.corporate_actions)
    log.info(
        "read %s: %d file(s) [%s], %d price rows, %d rejects, %d corporate actions, "
        "%d securities in %.2fs",
        root,
        len(loaded),
        result.fmt,
        result.prices.height,
        result.rejects.height,
        result.corporate_actions.height,
        result.securities.height,
        time.perf_counter() - started,
    )
    return result


def _drop_repeated_actions(actions: pl.DataFrame) -> pl.DataFrame:
    """One copy of an action found in several files (ADBL ships dividend.csv and dividend2.csv)."""
    keys = [c for c in CORPORATE_ACTION_SCHEMA if c != "source"]
    unique = actions.unique(subset=keys, keep="first", maintain_order=True)
    if unique.height < actions.height:
        # Applying one bonus twice would halve history twice; the copies add nothing.
        log.info("dropped %d repeated corporate action(s)", actions.height - unique.height)
    return unique


__all__ = [
    "FORMATS",
    "Format",
    "detect_format",
    "read_path",
    "symbol_from_path",
]
