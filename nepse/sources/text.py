"""The text of a price file: which encoding its bytes are in (NEPSE users' files vary)."""

from __future__ import annotations

import logging

from nepse.errors import SourceError

log = logging.getLogger(__name__)


def decode(data: bytes, source: str) -> str:
    """Text of a CSV file: UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise SourceError(f"{source}: starts as UTF-16 but does not decode ({exc})") from exc
    if b"\x00" in data[:4096]:
        raise SourceError(
            f"{source}: holds NUL bytes (UTF-16 without a byte-order mark, or not a text file); "
            "re-save it as UTF-8 CSV"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    # Old exports from Windows tools (Excel's "CSV") are Windows-1252. Latin-1 would never fail,
    # but it turns cp1252's quotes and dashes (0x80-0x9F) into invisible C1 control characters.
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SourceError(
            f"{source}: line {line}: byte 0x{data[exc.start]:02X} is neither UTF-8 nor "
            "Windows-1252, so the file's text encoding is unknown; re-save it as UTF-8"
        ) from exc
    log.warning("%s is not UTF-8; read it as Windows-1252 (cp1252)", source)
    return text
