"""The FastAPI application: read-only routes over the published folder, docs served locally."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import Depends, FastAPI, Request, Response
from fastapi_offline import FastAPIOffline

import nepse
from nepse.api import info, routes
from nepse.api.folder import UnsafePathError, dumps, published_root
from nepse.api.reader import NotPublished, Published
from nepse.api.render import Meta
from nepse.api.security import key_dependency
from nepse.settings import Settings

log = logging.getLogger(__name__)

DESCRIPTION = """\
Read-only answers from the NEPSE prediction service: each trading day's predictions (all
symbols or one), the day's drift verdict and links to its pages, tomorrow's orders and the
paper-trading ledger (once the daily run makes them), the model registry and cards, and the
service's health.

Every answer names the trading day it describes (`as_of`), the model that made it
(`model_version`) and the flow run that published it (`flow_run_id`), in the JSON body and in
the `X-As-Of`, `X-Model-Version` and `X-Flow-Run-Id` headers. Tables come as JSON (default),
CSV or Parquet (`?format=` or the Accept header), in pages (`offset`, `limit`; `next` and a
`Link` header point to the following page, relative to the server). `ETag` and
`Last-Modified` let a client poll with `If-None-Match` or `If-Modified-Since` and get an
empty 304 until something changes.

While today's run has not finished, `/predictions/latest` serves the last complete day and says
so (`stale`, `expected_session`). The API reads only what the daily run publishes atomically:
it never opens the database, never blocks a run and never sees half a day.
"""


def create_app(settings: Settings, *, clock: Callable[[], datetime] | None = None) -> FastAPI:
    """The API over `settings.data_dir`'s published folder; every data route requires
    settings.api_key when one is set."""
    app = FastAPIOffline(
        title="NEPSE predictions API",
        version=nepse.__version__,
        description=DESCRIPTION,
        openapi_tags=[
            {"name": "predictions", "description": "A day's predictions, best first."},
            {"name": "trading", "description": "Orders and the paper-trading ledger."},
            {"name": "service", "description": "Health, days, drift, model registry."},
        ],
    )
    app.state.ctx = routes.Context(
        published=Published(published_root(settings.data_dir)),
        timezone=settings.timezone,
        grace_minutes=settings.stale_after_minutes,
        clock=clock or (lambda: datetime.now(UTC)),
    )
    key = settings.api_key.get_secret_value() if settings.api_key else None
    deps = [Depends(key_dependency(key))] if key else []
    for router in (routes.predictions, routes.trading, info.router):
        app.include_router(router, dependencies=deps)
    app.add_exception_handler(NotPublished, _not_published)
    app.add_exception_handler(UnsafePathError, _unsafe)
    return app


def _problem(status: int, detail: str, meta: Meta) -> Response:
    body = dumps({**meta.fields(), "detail": detail})
    headers = {k: v for k, v in meta.headers().items() if k != "Last-Modified"}
    return Response(body, status_code=status, media_type="application/json", headers=headers)


async def _not_published(request: Request, exc: NotPublished) -> Response:
    e = exc.entry
    meta = (
        Meta(e.as_of, e.model_version, e.flow_run_id, None) if e else Meta(None, None, None, None)
    )
    return _problem(404, str(exc), meta)


async def _unsafe(request: Request, exc: UnsafePathError) -> Response:
    log.warning("refused a path in the published folder: %s", exc)
    return _problem(404, "not found in the published folder", Meta(None, None, None, None))
