"""The API's routes: read-only answers built from one publication of the published folder."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from nepse.api import schemas
from nepse.api.reader import NotPublished, Publication, Published
from nepse.api.render import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Format,
    Meta,
    negotiate,
    next_url,
    prepare_table,
    remember,
    render_page,
    send,
)
from nepse.calendar import market_close, today_in
from nepse.monitoring.staleness import Staleness, check_staleness
from nepse.schema import SYMBOL_PATTERN

FIRST_DAY = date(2000, 1, 1)
DAY_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
VERSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_SYMBOL = re.compile(SYMBOL_PATTERN)


@dataclass(frozen=True)
class Context:
    """What the routes read: the published folder, the market's zone and staleness grace."""

    published: Published
    timezone: str
    grace_minutes: int
    clock: Callable[[], datetime]


predictions = APIRouter(tags=["predictions"])
trading = APIRouter(tags=["trading"])
FormatQ = Query(None, alias="format", description="json (default), csv or parquet; else Accept.")
OffsetQ = Query(0, ge=0, description="First row of the page.")
LimitQ = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Rows per page.")
DayP = Path(pattern=DAY_PATTERN, description="A trading day, YYYY-MM-DD.", examples=["2026-11-20"])
SymbolP = Path(description="A NEPSE symbol (e.g. NABIL).", examples=["NABIL"])
_FILES = {
    "text/csv": {"schema": {"type": "string"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
}
_COMMON: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified since the ETag / date the client sent."},
    401: {"model": schemas.Problem, "description": "Missing or wrong API key (when one is set)."},
    404: {"model": schemas.Problem, "description": "Not published; the detail says why."},
}


def _table_doc(model: type) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "content": _FILES}, **_COMMON}


def _ctx(request: Request) -> Context:
    return request.app.state.ctx


def _day(ctx: Context, text: str) -> date:
    """An ISO date in range: from 2000 to tomorrow in the market's zone."""
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise HTTPException(422, f"{text!r} is not a date (YYYY-MM-DD)") from exc
    last = today_in(ctx.timezone, now=ctx.clock()) + timedelta(days=1)
    if not FIRST_DAY <= day <= last:
        raise HTTPException(422, f"{day} is out of range ({FIRST_DAY}..{last})")
    return day


def _symbol(text: str) -> str:
    if not _SYMBOL.match(text):
        raise HTTPException(422, f"{text!r} is not a NEPSE symbol ({SYMBOL_PATTERN})")
    return text


def _staleness(ctx: Context, pub: Publication) -> tuple[Staleness, datetime | None]:
    """How far the day is behind the calendar now, and since when (the expected session's
    close plus the grace: when a later answer became due)."""
    calendar = remember(pub.memo, ("calendar",), pub.calendar)
    # Every deadline (a session close + whole minutes of grace) falls on a minute: the answer of
    # the minute's start is the answer for the whole minute.
    now = ctx.clock().replace(second=0, microsecond=0)
    state = remember(
        pub.memo,
        ("staleness", now),
        lambda: check_staleness(
            calendar, now=now, tz=ctx.timezone, grace_minutes=ctx.grace_minutes
        ),
    )
    since = None
    if state.stale and state.expected is not None:
        close = market_close(state.expected, timezone=ctx.timezone)
        since = close + timedelta(minutes=ctx.grace_minutes)
    return state, since


def _meta(pub: Publication, *, since: datetime | None = None) -> Meta:
    e = pub.entry
    modified = max(e.published_at, since) if since else e.published_at
    return Meta(e.as_of, e.model_version, e.flow_run_id, modified)


def _table(
    request: Request,
    kind: str,
    day: str | None,
    symbol: str | None,
    fmt: Format | None,
    offset: int,
    limit: int,
) -> Response:
    """A page of one day's table (the latest day when `day` is None)."""
    ctx = _ctx(request)
    sym = _symbol(symbol) if symbol is not None else None
    pub = ctx.published.day(_day(ctx, day) if day is not None else None)
    e = pub.entry
    frame = pub.tables.get(kind)
    if frame is None:
        raise NotPublished(
            f"the daily run of {e.as_of} published no {kind}; they are published once the "
            "portfolio layer makes them (docs/api.md)",
            e,
        )
    chosen = negotiate(fmt, request.headers.get("accept"))
    page = remember(
        pub.memo,
        (kind, sym, chosen, offset, limit),
        lambda: render_page(
            frame if sym is None else frame.filter(frame["symbol"] == sym), chosen, offset, limit
        ),
    )
    if sym is not None and page.total == 0:
        raise NotPublished(
            f"{sym} has no {kind} on {e.as_of}: it did not trade that day, is not an active "
            "equity, or is not a listed symbol",
            e,
        )
    extra: dict[str, Any] = {"published_at": e.published_at}
    since = None
    if kind == "predictions":
        newest = ctx.published.entries()[0]
        extra["latest"] = newest.publication == e.publication
        extra["stale"], extra["expected_session"] = None, None
        if day is None:
            state, since = _staleness(ctx, pub)
            extra["stale"], extra["expected_session"] = state.stale, state.expected
    following = next_url(request.url.path, fmt, page)
    key = (request.url.path, fmt, chosen, offset, limit, *extra.values())
    meta = _meta(pub, since=since)
    answer = remember(pub.memo, key, lambda: prepare_table(following, meta, page, chosen, extra))
    return send(request, answer)


@predictions.get(
    "/predictions/latest", response_model=None, responses=_table_doc(schemas.Predictions)
)
async def latest_predictions(
    request: Request, format: Format | None = FormatQ, offset: int = OffsetQ, limit: int = LimitQ
) -> Response:
    """The newest published day's predictions, best first; `stale` says whether the market
    calendar expected a later day by now (today's run not finished: yesterday's answer)."""
    return _table(request, "predictions", None, None, format, offset, limit)


@predictions.get(
    "/predictions/latest/{symbol:path}",
    response_model=None,
    responses=_table_doc(schemas.Predictions),
)
async def latest_prediction(
    request: Request, symbol: str = SymbolP, format: Format | None = FormatQ
) -> Response:
    """One symbol's prediction of the newest published day."""
    return _table(request, "predictions", None, symbol, format, 0, DEFAULT_LIMIT)


@predictions.get(
    "/predictions/{day}", response_model=None, responses=_table_doc(schemas.Predictions)
)
async def day_predictions(
    request: Request,
    day: str = DayP,
    format: Format | None = FormatQ,
    offset: int = OffsetQ,
    limit: int = LimitQ,
) -> Response:
    """A published day's predictions, best first."""
    return _table(request, "predictions", day, None, format, offset, limit)


@predictions.get(
    "/predictions/{day}/{symbol:path}",
    response_model=None,
    responses=_table_doc(schemas.Predictions),
)
async def day_prediction(
    request: Request, day: str = DayP, symbol: str = SymbolP, format: Format | None = FormatQ
) -> Response:
    """One symbol's prediction of a published day."""
    return _table(request, "predictions", day, symbol, format, 0, DEFAULT_LIMIT)


@trading.get("/orders/latest", response_model=None, responses=_table_doc(schemas.Table))
async def latest_orders(
    request: Request, format: Format | None = FormatQ, offset: int = OffsetQ, limit: int = LimitQ
) -> Response:
    """The orders for the session after the newest published day (404 until runs make them)."""
    return _table(request, "orders", None, None, format, offset, limit)


@trading.get("/orders/{day}", response_model=None, responses=_table_doc(schemas.Table))
async def day_orders(
    request: Request,
    day: str = DayP,
    format: Format | None = FormatQ,
    offset: int = OffsetQ,
    limit: int = LimitQ,
) -> Response:
    """The orders a day's run made for the next session."""
    return _table(request, "orders", day, None, format, offset, limit)


@trading.get("/ledger/latest", response_model=None, responses=_table_doc(schemas.Table))
async def latest_ledger(
    request: Request, format: Format | None = FormatQ, offset: int = OffsetQ, limit: int = LimitQ
) -> Response:
    """The paper-trading ledger up to the newest published day (404 until runs make it)."""
    return _table(request, "ledger", None, None, format, offset, limit)


@trading.get("/ledger/{day}", response_model=None, responses=_table_doc(schemas.Table))
async def day_ledger(
    request: Request,
    day: str = DayP,
    format: Format | None = FormatQ,
    offset: int = OffsetQ,
    limit: int = LimitQ,
) -> Response:
    """The paper-trading ledger as a day's run left it."""
    return _table(request, "ledger", day, None, format, offset, limit)
