"""Settings: defaults, environment, config file precedence, secrets never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nepse.errors import ConfigError
from nepse.settings import REMOVED_SETTINGS, Settings, load_settings


def test_defaults_put_everything_under_data(settings, monkeypatch):
    monkeypatch.chdir(settings.data_dir.parent)
    s = load_settings()
    assert s.database == Path("data/nepse.duckdb")
    assert s.data_dir == Path("data")
    assert s.timezone == "Asia/Kathmandu"


def test_env_overrides_config_file_which_overrides_defaults(tmp_path, monkeypatch):
    cfg = tmp_path / "nepse.toml"
    cfg.write_text('horizon = 3\ndb_path = "/srv/nepse.duckdb"\nmax_reject_share = 0.2\n')
    monkeypatch.setenv("NEPSE_CONFIG", str(cfg))
    monkeypatch.setenv("NEPSE_HORIZON", "2")
    s = load_settings()
    assert s.horizon == 2  # environment beats file
    assert s.database == Path("/srv/nepse.duckdb")  # file beats default
    assert s.max_reject_share == 0.2
    assert load_settings(horizon=5).horizon == 5  # explicit override beats both


def test_config_file_may_not_hold_secrets(tmp_path):
    cfg = tmp_path / "nepse.toml"
    cfg.write_text('api_token = "tok-abc"\n')
    with pytest.raises(ConfigError, match="secret"):
        load_settings(cfg)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("horizon = [", "not valid TOML"),
        ("no_such_knob = 1", "unknown setting"),
        ("horizon = 0", "horizon"),
    ],
)
def test_bad_config_file_is_a_clear_error(tmp_path, text, match):
    cfg = tmp_path / "nepse.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_settings(cfg)


def test_missing_config_file_names_it(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize("name", sorted(REMOVED_SETTINGS))
def test_a_removed_setting_is_refused_in_one_line_wherever_it_is_set(tmp_path, monkeypatch, name):
    value = "2026-04-20" if name.endswith("_date") else "0.2"
    cfg = tmp_path / "nepse.toml"
    cfg.write_text(f'horizon = 2\n{name} = "{value}"\n')
    places = {
        "config file": lambda: load_settings(cfg),
        "environment": lambda: load_settings(),
        "load_settings()": lambda: load_settings(**{name: value}),
    }
    for where, load in places.items():
        if where == "environment":
            monkeypatch.setenv(f"NEPSE_{name.upper()}", value)
        with pytest.raises(ConfigError) as info:
            load()
        message = str(info.value)
        assert "\n" not in message, message
        assert f"removed setting(s): {name} (" in message, message
        assert REMOVED_SETTINGS[name] in message  # what replaced it
        assert "validation error" not in message  # not a pydantic dump


def test_market_facts_are_not_settings():
    # Price limits, the trading week, session hours and costs live in nepse/market/rules.toml.
    fields = set(Settings.model_fields)
    assert not {f for f in fields if "limit" in f and "price" in f}
    assert not {f for f in fields if any(w in f for w in ("weekday", "commission", "sebon"))}


def test_nepse_config_prints_settings_with_secrets_masked(settings, monkeypatch):
    from flows.cli import app

    monkeypatch.setenv("NEPSE_API_TOKEN", "tok-123-secret")
    result = CliRunner().invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)
    assert values["api_token"] == "**********"
    assert "tok-123-secret" not in result.output
    assert values["database"].endswith("nepse.duckdb")
    table = CliRunner().invoke(app, ["config"])
    assert table.exit_code == 0 and "very-secret" not in table.output
