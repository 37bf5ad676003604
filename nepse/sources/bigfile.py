"""A large CSV read a slice at a time, so memory follows the slice, not the file.

A 200 MB price file read whole peaked at 3.9 GB: its bytes, its text, its lines, its fields and
its parsed rows all at once, each row keeping its raw text for a reject that almost never comes.
`slices(path)` yields the file's text in slices of about `SLICE_BYTES`, each ending at a line
end, with the physical line number it starts at (so every row's `line` is what an editor
shows), decoded as the whole-file reader would (UTF-8, else Windows-1252: the file is checked
for UTF-8 first, streaming). The reader parses each slice as it comes and keeps
the parsed rows without their raw text; `raw_lines` reads the few lines a quality rule rejects
back from the file. Files whose format needs all rows at once (slash dates decided per file),
UTF-16 and CR-only files are read whole (nepse/sources/readers.py decides).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from nepse.errors import SourceError
from nepse.schema import REJECT_SCHEMA, ReadResult, conform

SLICE_BYTES = 4 << 20
"""Bytes read per slice (the last line is completed from the next read)."""
BIG_FILE_BYTES = 48 << 20
"""Files larger than this are read in slices."""


def slices(path: Path) -> Iterator[tuple[str, int, bool]]:
    """(text, number of its first physical line, is it the last slice) for the whole file."""
    yield from _slices(path, _encoding(path))


def _encoding(path: Path) -> str:
    """'utf-8' when the whole file decodes as UTF-8 (checked streaming), else 'cp1252'."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            while block := fh.read(SLICE_BYTES):
                decoder.decode(block)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "cp1252"
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file ({exc}); check its permissions") from exc
    return "utf-8"


def _slices(path: Path, encoding: str) -> Iterator[tuple[str, int, bool]]:
    slice_bytes = SLICE_BYTES  # read at call time: tests make it small
    line = 1
    carry = b""
    try:
        with path.open("rb") as fh:
            first = True
            while True:
                data = carry + fh.read(slice_bytes)
                last = len(data) == len(carry) or fh.peek(1) == b""
                cut = len(data) if last else data.rfind(b"\n") + 1
                if cut == 0:  # no line end in a whole slice: read on
                    carry = data
                    continue
                chunk, carry = data[:cut], data[cut:]
                text = _decode(chunk, encoding, first=first, source=path, line=line)
                yield text.replace("\r\n", "\n"), line, last
                if last:
                    return
                line += chunk.count(b"\n")
                first = False
    except OSError as exc:
        raise SourceError(f"{path}: cannot read the file ({exc}); check its permissions") from exc


def _decode(chunk: bytes, encoding: str, *, first: bool, source: Path, line: int) -> str:
    if encoding == "utf-8":
        return chunk.decode("utf-8-sig" if first else "utf-8")
    try:
        return chunk.decode("cp1252")
    except UnicodeDecodeError as exc:
        at = line + chunk.count(b"\n", 0, exc.start)
        raise SourceError(
            f"{source}: line {at}: byte 0x{chunk[exc.start]:02X} is neither UTF-8 nor "
            "Windows-1252, so the file's text encoding is unknown; re-save it as UTF-8"
        ) from exc


def raw_lines(path: Path, lines: set[int]) -> dict[int, str]:
    """The text of the given physical lines of `path` (line ends removed), read by streaming."""
    found: dict[int, str] = {}
    last = max(lines, default=0)
    with path.open("rb") as fh:
        for number, data in enumerate(fh, 1):
            if number in lines:
                try:
                    text = data.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError:
                    text = data.decode("cp1252", errors="replace")
                found[number] = text.rstrip("\r\n")
            if number >= last:
                break
    return found


def file_decimal_comma(result: ReadResult) -> ReadResult:
    """A decimal comma in any slice quarantines the whole file's rows (as a whole read does)."""
    evidence = result.rejects.filter(pl.col("reason") == "decimal_comma").head(1)
    if not evidence.height or not result.prices.height:
        return result
    line, detail = evidence["line"][0], evidence["detail"][0]
    moved = result.prices.with_columns(
        reason=pl.lit("decimal_comma"),
        detail=pl.lit(
            f"the file writes numbers with a decimal comma (line {line}: {detail}), so none of "
            "its numbers can be trusted; re-save it with '.' as the decimal mark and no "
            "thousands separators"
        ),
    )
    result.rejects = pl.concat([result.rejects, conform(moved, REJECT_SCHEMA)])
    result.prices = result.prices.clear()
    return result


def fill_raw(rejects: pl.DataFrame) -> pl.DataFrame:
    """Rejects whose raw text was not kept (a file read in slices) with it read back."""
    missing = rejects.filter(pl.col("raw").is_null() & pl.col("line").is_not_null())
    if not missing.height:
        return rejects
    found = []
    for (source,), group in missing.group_by("source"):
        path = Path(str(source))
        if path.is_file():
            texts = raw_lines(path, set(group["line"].to_list()))
            found += [(str(source), n, t) for n, t in texts.items()]
    if not found:
        return rejects
    back = pl.DataFrame(
        found, schema={"source": pl.String, "line": pl.Int64, "_raw": pl.String}, orient="row"
    )
    return (
        rejects.join(back, on=["source", "line"], how="left", maintain_order="left")
        .with_columns(raw=pl.coalesce("raw", "_raw"))
        .drop("_raw")
    )
