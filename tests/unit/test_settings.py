"""Settings: defaults, environment, config file precedence, secrets never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nepse.errors import ConfigError
from nepse.settings import load_settings


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
    cfg.write_text('webhook_url = "https://hooks.example/abc"\n')
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


def test_price_limit_changes_on_2026_04_20(settings):
    from datetime import date

    assert settings.price_limit(date(2026, 4, 19)) == pytest.approx(0.10)
    assert settings.price_limit(date(2026, 4, 20)) == pytest.approx(0.15)


def test_nepse_config_prints_settings_with_secrets_masked(settings, monkeypatch):
    from flows.cli import app

    monkeypatch.setenv("NEPSE_WEBHOOK_URL", "https://hooks.example/T0/B0/very-secret")
    monkeypatch.setenv("NEPSE_API_TOKEN", "tok-123-secret")
    result = CliRunner().invoke(app, ["config", "--json"])
    assert result.exit_code == 0, result.output
    values = json.loads(result.output)
    assert values["webhook_url"] == "**********"
    assert values["api_token"] == "**********"
    assert "very-secret" not in result.output and "tok-123-secret" not in result.output
    assert values["database"].endswith("nepse.duckdb")
    table = CliRunner().invoke(app, ["config"])
    assert table.exit_code == 0 and "very-secret" not in table.output
