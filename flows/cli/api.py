"""`nepse api serve | publish`: the read-only predictions API and its published folder."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import _date_opt, _settings, app, console

api_app = typer.Typer(help="The read-only predictions API (docs/api.md).")
app.add_typer(api_app, name="api")


def api_settings():
    """Settings with the API key from the Prefect Secret block NEPSE_API_KEY_BLOCK when the
    environment has none (the library never imports Prefect, so the CLI reads the block)."""
    from pydantic import SecretStr

    from nepse import secrets

    s = _settings()
    if s.api_key is None and s.api_key_block:
        from prefect.blocks.system import Secret

        key = str(Secret.load(s.api_key_block).get())
        secrets.register(key)
        s = s.model_copy(update={"api_key": SecretStr(key)})
    return s


@api_app.command("serve")
def api_serve(
    host: Annotated[
        str | None, typer.Option(help="Address (default NEPSE_API_LISTEN_HOST, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port (default NEPSE_API_LISTEN_PORT, 8770).")
    ] = None,
) -> None:
    """Serve the published folder over HTTP until stopped (docs at /docs). Any address but
    loopback needs an API key (NEPSE_API_KEY or NEPSE_API_KEY_BLOCK)."""
    from nepse.api.server import serve

    serve(api_settings(), host=host, port=port)


@api_app.command("publish")
def api_publish(
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day (YYYY-MM-DD).")] = None,
) -> None:
    """Publish the days already scored in the database (read-only; run it once while no run
    holds the database). Daily runs publish their own day."""
    from nepse.app.snapshot import publish_history

    s = _settings()
    with console.status("publishing the stored prediction days…"):
        snaps = publish_history(s, _date_opt(start), _date_opt(end))
    if not snaps:
        console.print("no stored predictions in that range; the registry was published")
        return
    console.print(
        f"published {len(snaps)} day(s), {snaps[0].as_of}..{snaps[-1].as_of}, and the registry "
        f"to {s.data_dir / 'published'}"
    )
