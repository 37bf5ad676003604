"""A run's settings (secrets from Prefect blocks) and logger, and whether a server is there."""

from __future__ import annotations

import logging

from prefect.logging import get_logger, get_run_logger
from pydantic import SecretStr

from nepse.app import Settings, load_settings


def settings() -> Settings:
    """Settings for this task run: environment plus the config file named by NEPSE_CONFIG, with
    the API token from the Prefect Secret block NEPSE_API_TOKEN_BLOCK when the environment has
    none."""
    s = load_settings()
    if s.api_token is None and s.api_token_block:
        from prefect.blocks.system import Secret

        token = Secret.load(s.api_token_block).get()
        s = s.model_copy(update={"api_token": SecretStr(str(token))})
    return s


def logger() -> logging.Logger | logging.LoggerAdapter:
    from prefect.exceptions import MissingContextError

    try:
        return get_run_logger()
    except MissingContextError:  # outside a run: a CLI command such as `models promote`
        return get_logger("nepse.writer")


def has_server() -> bool:
    """Is there a Prefect server to share the slot with (not the temporary per-process one)?"""
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)
