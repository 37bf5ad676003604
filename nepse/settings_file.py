"""The settings' sources beside the environment: the TOML config file, and removed settings.

A config file (`--config` or `NEPSE_CONFIG`) is a flat table of setting names, optionally under
`[nepse]`; it may not set secrets (`SECRET_FIELDS`: the environment or a Prefect Secret block
only) nor a removed setting (`REMOVED_SETTINGS`: refused with one line saying what replaced it).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from nepse.errors import ConfigError

SECRET_FIELDS = ("api_token", "api_key")
_RULES = (
    "price limits are dated market rules: edit the price_limit table of nepse/market/rules.toml"
)
_ALERTS = "alerts are Prefect events routed by the automations of automations.yaml"
_DRIFT = "the calibrated drift alarms replaced it (see NEPSE_DRIFT_ALARM_QUANTILE)"
REMOVED_SETTINGS: dict[str, str] = {
    "price_limit_before": _RULES,
    "price_limit_after": _RULES,
    "price_limit_change_date": _RULES,
    "webhook_url": _ALERTS,
    "webhook_secret_block": _ALERTS,
    "alert_block": _ALERTS,
    "drift_max_features": _DRIFT,
    "drift_share_threshold": _DRIFT,
}
"""Settings that no longer exist, and what replaced each (said when one is still set)."""


def refuse_removed(names: Iterable[str], where: str) -> None:
    """Raise ConfigError, one line, when `names` (set in `where`) include a removed setting."""
    removed = sorted({n.lower() for n in names} & set(REMOVED_SETTINGS))
    if removed:
        why: dict[str, list[str]] = {}
        for name in removed:
            why.setdefault(REMOVED_SETTINGS[name], []).append(name)
        told = "; ".join(f"{', '.join(n)} ({reason})" for reason, n in why.items())
        them = "it" if len(removed) == 1 else "them"
        raise ConfigError(f"{where} sets removed setting(s): {told}; delete {them} there")


_config_file: ContextVar[Path | None] = ContextVar("nepse_config_file", default=None)


class _TomlFileSource(PydanticBaseSettingsSource):
    """Reads the optional TOML config file (a flat table of field names)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        if not self.path.is_file():
            raise ConfigError(
                f"config file {self.path} does not exist (from --config/NEPSE_CONFIG)"
            )
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {self.path} is not valid TOML: {exc}") from exc
        if "nepse" in data:
            table = data["nepse"]
            top = sorted(k for k in data if k != "nepse")
            if not isinstance(table, dict) or top:
                raise ConfigError(
                    f"config file {self.path} has a [nepse] table and top-level key(s) "
                    f"{', '.join(top) or '(none)'}; put every setting in one place: either all "
                    "under [nepse] or all at the top level"
                )
            data = table
        refuse_removed(data, f"config file {self.path}")
        leaked = sorted(set(data) & set(SECRET_FIELDS))
        if leaked:
            raise ConfigError(
                f"config file {self.path} sets secret(s) {', '.join(leaked)}; secrets come only "
                f"from the environment (NEPSE_{leaked[0].upper()}) or a Prefect Secret block"
            )
        unknown = sorted(set(data) - set(self.settings_cls.model_fields))
        if unknown:
            raise ConfigError(f"config file {self.path}: unknown setting(s) {', '.join(unknown)}")
        return data
