"""Run the API with uvicorn: on 127.0.0.1 unless told otherwise, never beyond without a key."""

from __future__ import annotations

import logging

from nepse.api.security import check_bind
from nepse.settings import Settings

log = logging.getLogger(__name__)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Serve the published folder of `settings.data_dir` until stopped (Ctrl-C, SIGTERM);
    ConfigError before listening when the address needs a key and none is set."""
    import uvicorn

    from nepse.api.app import create_app

    host = host or settings.api_listen_host
    port = port or settings.api_listen_port
    check_bind(host, settings.api_key.get_secret_value() if settings.api_key else None)
    app = create_app(settings)
    log.info(
        "nepse api on http://%s:%d/ (docs /docs) over %s; API key %s",
        host,
        port,
        settings.data_dir / "published",
        "required" if settings.api_key else "not set (loopback only)",
    )
    uvicorn.run(app, host=host, port=port, server_header=False, log_level="info")
