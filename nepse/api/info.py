"""The API's routes about the service: health, published days, drift verdicts, the registry."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Path, Query, Request, Response

from nepse.api import schemas
from nepse.api.reader import Entry, NotPublished
from nepse.api.render import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    Format,
    Meta,
    json_answer,
    negotiate,
    next_url,
    prepare_table,
    render_page,
    send,
)
from nepse.api.routes import _COMMON, VERSION_PATTERN, DayP, _ctx, _day, _meta, _staleness

router = APIRouter(tags=["service"])


def _doc(model: type) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model}, **_COMMON}


def _latest(request: Request) -> Entry | None:
    entries = _ctx(request).published.entries()
    return entries[0] if entries else None


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@router.get("/health", response_model=None, responses=_doc(schemas.Health))
async def health(request: Request) -> Response:
    """The newest published day, whether the market calendar expected a later one by now
    (stale), the champion, and the last state the daily run reached (a run that failed before
    publishing shows here)."""
    ctx = _ctx(request)
    registry = ctx.published.registry() or {}
    last = ctx.published.last_run()
    times = [_parse_time((last or {}).get("at")), _parse_time(registry.get("published_at"))]
    body: dict[str, Any] = {
        "status": "empty",
        "published_at": None,
        "stale": None,
        "expected_session": None,
        "missed_sessions": None,
    }
    meta = Meta(None, None, None, None)
    entries = ctx.published.entries()
    if entries:
        pub = ctx.published.day()
        state, since = _staleness(ctx, pub)
        meta = _meta(pub, since=since)
        times.append(meta.last_modified)
        body.update(
            status="stale" if state.stale else "ok",
            published_at=pub.entry.published_at,
            stale=state.stale,
            expected_session=state.expected,
            missed_sessions=state.missed_sessions,
        )
    body.update(champion=registry.get("champion"), days_published=len(entries), last_run=last)
    known = [t for t in times if t is not None]
    meta = Meta(meta.as_of, meta.model_version, meta.flow_run_id, max(known) if known else None)
    return json_answer(request, meta, body)


@router.get("/days", response_model=None, responses={200: {"model": schemas.Days}, **_COMMON})
async def days(
    request: Request,
    format: Format | None = Query(None, description="json (default), csv or parquet."),
    offset: int = Query(0, ge=0),
    limit: int = Query(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT),
) -> Response:
    """Every published day, newest first (as_of, model, flow run, count, publication time)."""
    import polars as pl

    ctx = _ctx(request)
    entries = ctx.published.entries()
    if not entries:
        ctx.published.entry()  # raises NotPublished with the reason
    chosen = negotiate(format, request.headers.get("accept"))
    frame = pl.DataFrame([e.__dict__ for e in entries])
    page = render_page(frame, chosen, offset, limit)
    e = entries[0]
    meta = Meta(e.as_of, e.model_version, e.flow_run_id, e.published_at)
    following = next_url(request.url.path, format, page)
    return send(request, prepare_table(following, meta, page, chosen, {}))


@router.get("/drift/latest", response_model=None, responses=_doc(schemas.Drift))
async def latest_drift(request: Request) -> Response:
    """The newest published day's drift verdict and links to its pages."""
    return _drift(request, None)


@router.get("/drift/{day}", response_model=None, responses=_doc(schemas.Drift))
async def day_drift(request: Request, day: str = DayP) -> Response:
    """A published day's drift verdict and links to its pages."""
    return _drift(request, day)


def _drift(request: Request, day: str | None) -> Response:
    ctx = _ctx(request)
    pub = ctx.published.day(_day(ctx, day) if day is not None else None)
    if pub.drift.get("verdict") is None:
        raise NotPublished(
            f"no drift verdict for {pub.entry.as_of}: {pub.drift.get('reason')}", pub.entry
        )
    payload = {"published_at": pub.entry.published_at, "drift": pub.drift}
    return json_answer(request, _meta(pub), payload)


def _registry(request: Request) -> tuple[dict[str, Any], Meta]:
    registry = _ctx(request).published.registry()
    if registry is None:
        raise NotPublished(
            "the model registry is not published yet: the daily run publishes it, and "
            "`nepse api publish` does for an existing database"
        )
    latest = _latest(request)
    meta = Meta(
        latest.as_of if latest else None,
        registry.get("champion"),
        latest.flow_run_id if latest else None,
        _parse_time(registry.get("published_at")),
    )
    return registry, meta


@router.get("/models", response_model=None, responses=_doc(schemas.Models))
async def models(request: Request) -> Response:
    """Every registered model, newest first; `model_version` is the champion."""
    registry, meta = _registry(request)
    payload = {
        "published_at": registry.get("published_at"),
        "champion": registry.get("champion"),
        "data": registry.get("models", []),
    }
    return json_answer(request, meta, payload)


@router.get("/models/champion", response_model=None, responses=_doc(schemas.Model))
async def champion(request: Request) -> Response:
    """The champion's registry row and model card."""
    registry, _ = _registry(request)
    if not registry.get("champion"):
        raise NotPublished("the registry has no champion yet: train one with `nepse train`")
    return await model(request, registry["champion"])


@router.get("/models/{version}", response_model=None, responses=_doc(schemas.Model))
async def model(
    request: Request,
    version: str = Path(pattern=VERSION_PATTERN, examples=["20261118-093012-4f2a9c"]),
) -> Response:
    """One registered model's row and card."""
    registry, meta = _registry(request)
    rows = [m for m in registry.get("models", []) if m.get("version") == version]
    if not rows:
        raise NotPublished(f"model version {version!r} is not in the published registry")
    payload = {
        "published_at": registry.get("published_at"),
        "model": rows[0],
        "card": registry.get("cards", {}).get(version),
    }
    return json_answer(request, meta, payload)
