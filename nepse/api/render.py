"""How the API answers: formats (JSON, CSV, Parquet), pages, validators for cheap polling.

Every answer carries the day it describes (`X-As-Of`), the model that made it
(`X-Model-Version`) and the flow run that published it (`X-Flow-Run-Id`) in its headers, and in
its body where the format has room for them (JSON's envelope; each CSV/Parquet row has
`date`, `model_version` and `flow_run_id` columns). ETag is a hash of the body and
Last-Modified the publication's time, so `If-None-Match` / `If-Modified-Since` polls get an
empty 304 until something changes.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import urlencode

import polars as pl
from fastapi import Request, Response

from nepse.api.folder import dumps

Format = Literal["json", "csv", "parquet"]
MEDIA = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}
_ACCEPTED = {
    "application/json": "json",
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
DEFAULT_LIMIT = 500
MAX_LIMIT = 5000
MEMO_MAX = 256
"""Rendered answers kept per publication (variants of symbol, format and page)."""


def negotiate(fmt: Format | None, accept: str | None) -> Format:
    """`?format=` wins; else the first type of the Accept header this API makes; else JSON."""
    if fmt is not None:
        return fmt
    for part in (accept or "").split(","):
        chosen = _ACCEPTED.get(part.split(";")[0].strip().lower())
        if chosen:
            return chosen  # type: ignore[return-value]
    return "json"


@dataclass(frozen=True)
class Meta:
    """What every answer says about itself."""

    as_of: date | None
    model_version: str | None
    flow_run_id: str | None
    last_modified: datetime | None

    def fields(self) -> dict[str, Any]:
        """The envelope's first fields."""
        return {
            "as_of": self.as_of,
            "model_version": self.model_version,
            "flow_run_id": self.flow_run_id,
        }

    def headers(self) -> dict[str, str]:
        """The same as response headers (for CSV and Parquet, which have no envelope)."""
        out = {
            "X-As-Of": self.as_of.isoformat() if self.as_of else "",
            "X-Model-Version": self.model_version or "",
            "X-Flow-Run-Id": self.flow_run_id or "",
            "Cache-Control": "no-cache",
        }
        if self.last_modified is not None:
            out["Last-Modified"] = format_datetime(self.last_modified.astimezone(UTC), usegmt=True)
        return out


@dataclass(frozen=True)
class Page:
    """A slice of a table rendered in one format, with the count of all its rows."""

    body: bytes
    """JSON: the rows as a JSON array; CSV and Parquet: the whole file."""
    total: int
    offset: int
    limit: int


def render_page(frame: pl.DataFrame, fmt: Format, offset: int, limit: int) -> Page:
    """Rows offset..offset+limit of `frame` in `fmt`."""
    part = frame.slice(offset, limit)
    if fmt == "json":
        body = part.write_json().encode()
    elif fmt == "csv":
        body = part.write_csv().encode()
    else:
        buf = io.BytesIO()
        part.write_parquet(buf)
        body = buf.getvalue()
    return Page(body=body, total=frame.height, offset=offset, limit=limit)


def remember(memo: dict, key: tuple, make) -> Any:
    """memo[key], made once (bounded: the oldest answers go first)."""
    hit = memo.get(key)
    if hit is None:
        hit = make()
        if len(memo) >= MEMO_MAX:
            memo.pop(next(iter(memo)), None)
        memo[key] = hit
    return hit


@dataclass(frozen=True)
class Prepared:
    """An answer ready to send (kept in a publication's memo: it never changes)."""

    body: bytes
    media_type: str
    headers: dict[str, str]
    """Meta headers, paging headers and the ETag."""
    last_modified: datetime | None


def prepare(meta: Meta, body: bytes, media_type: str, headers: dict[str, str]) -> Prepared:
    """An answer with its validators: ETag is a hash of the body."""
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    return Prepared(
        body, media_type, {**meta.headers(), **headers, "ETag": etag}, meta.last_modified
    )


def next_url(path: str, fmt: Format | None, page: Page) -> str | None:
    """The next page's URL (relative, RFC 8288), or None on the last page; only the paging
    and format parameters are carried over, so what a client adds changes nothing."""
    if page.offset + page.limit >= page.total:
        return None
    query = {"format": fmt} if fmt else {}
    return f"{path}?{urlencode({**query, 'offset': page.offset + page.limit, 'limit': page.limit})}"


def prepare_table(
    following: str | None, meta: Meta, page: Page, fmt: Format, extra: dict[str, Any]
) -> Prepared:
    """A page of a table: JSON envelope (meta, `extra`, paging, `data`), or the CSV/Parquet
    file with the same facts in headers; `Link: rel="next"` when more rows follow."""
    paging = {"total": page.total, "offset": page.offset, "limit": page.limit, "next": following}
    headers = {"X-Total-Count": str(page.total)}
    if following:
        headers["Link"] = f'<{following}>; rel="next"'
    if fmt == "json":
        head = dumps({**meta.fields(), **extra, **paging})
        body = head[:-1] + b',"data":' + page.body + b"}"
    else:
        body = page.body
        headers.update({f"X-{k.replace('_', '-').title()}": _text(v) for k, v in extra.items()})
    return prepare(meta, body, MEDIA[fmt], headers)


def json_answer(request: Request, meta: Meta, payload: dict[str, Any]) -> Response:
    """A JSON document: the meta fields first, then `payload`."""
    return send(request, prepare(meta, dumps({**meta.fields(), **payload}), MEDIA["json"], {}))


def send(request: Request, answer: Prepared) -> Response:
    """The response; 304 (no body) when the client's copy is current."""
    if not_modified(request, answer.headers["ETag"], answer.last_modified):
        return Response(status_code=304, headers=answer.headers)
    return Response(content=answer.body, media_type=answer.media_type, headers=answer.headers)


def not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """RFC 9110 13.2.2: If-None-Match decides when present, else If-Modified-Since."""
    inm = request.headers.get("if-none-match")
    if inm is not None:
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        return "*" in tags or etag in tags
    ims = request.headers.get("if-modified-since")
    if ims is None or last_modified is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.astimezone(UTC).replace(microsecond=0) <= since


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    return str(value)
