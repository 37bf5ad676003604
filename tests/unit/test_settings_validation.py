"""Settings that make no sense are refused with the setting named (issue 13 item 7)."""

from __future__ import annotations

import json
import re

import pytest

from nepse.errors import ConfigError
from nepse.settings import load_settings


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("NEPSE_MAX_REJECT_SHARE", "2", "max_reject_share"),
        ("NEPSE_MAX_REJECT_SHARE", "-1", "max_reject_share"),
        ("NEPSE_DRIFT_ALARM_QUANTILE", "1.5", "drift_alarm_quantile"),
        ("NEPSE_TIMEZONE", "Mars/Base", "timezone"),
        ("NEPSE_API_PAGE_SIZE", "0", "api_page_size"),
        ("NEPSE_SAMPLE_SYMBOLS", "-3", "sample_symbols"),
        ("NEPSE_API_READ_TIMEOUT_S", "0", "api_read_timeout_s"),
        ("NEPSE_LOCK_TIMEOUT_S", "-1", "lock_timeout_s"),
    ],
)
def test_nonsense_values_are_refused_naming_the_setting(settings, monkeypatch, env, value, named):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=rf"{named} \(NEPSE_{named.upper()}\) = "):
        load_settings()


@pytest.mark.parametrize(
    ("env", "value", "line"),
    [
        (
            "NEPSE_RETRAIN_EVERY",
            "0",
            "NEPSE_RETRAIN_EVERY\\) = '0': .* \\(allowed: 1\\.\\.2,520\\)",
        ),
        ("NEPSE_RETRAIN_EVERY", "-21", "NEPSE_RETRAIN_EVERY\\) = '-21'"),
        ("NEPSE_TRAIN_YEARS", "-1", "NEPSE_TRAIN_YEARS\\) = '-1': .* > 0.0 and <= 50.0"),
        ("NEPSE_VALID_DAYS", "-60", "NEPSE_VALID_DAYS\\) = '-60': .* 1\\.\\.2,520"),
        (
            "NEPSE_API_PAGE_SIZE",
            "1000000000000",
            "NEPSE_API_PAGE_SIZE\\) = '1000000000000'.*<= 10000",
        ),
        (
            "NEPSE_SEEDS",
            json.dumps(list(range(16_000))),
            "NEPSE_SEEDS\\) = .* not 16000 .*1 to 100",
        ),
        (
            "NEPSE_SEEDS",
            "[-1]",
            "seeds\\[0\\] \\(NEPSE_SEEDS\\) = -1: .* each 0\\.\\.2,147,483,647",
        ),
        ("NEPSE_NUM_BOOST_ROUND", "0", "NEPSE_NUM_BOOST_ROUND\\) = '0'"),
        ("NEPSE_COST_BPS", "-5", "NEPSE_COST_BPS\\) = '-5'"),
    ],
)
def test_a_nonsense_value_gets_one_line_naming_the_setting_and_its_range(
    settings, monkeypatch, env, value, line
):
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "\n" not in message
    assert re.search(line, message), message


def test_every_default_lies_inside_its_range(settings):
    assert settings.retrain_every == 21 and settings.seeds == (0, 1, 2)


def test_unknown_key_in_a_config_file_is_named(tmp_path):
    cfg = tmp_path / "nepse.toml"
    cfg.write_text("[nepse]\nhorizon = 2\nmax_rejcet_share = 0.1\n")
    with pytest.raises(ConfigError, match="max_rejcet_share"):
        load_settings(cfg)


def test_top_level_keys_beside_a_nepse_table_are_refused_not_ignored(tmp_path):
    cfg = tmp_path / "nepse.toml"
    cfg.write_text("max_reject_share = 0.2\n[nepse]\nhorizon = 2\n")
    with pytest.raises(ConfigError, match="max_reject_share"):
        load_settings(cfg)
    cfg.write_text("[nepse]\nhorizon = 2\nmax_reject_share = 0.2\n")
    s = load_settings(cfg)
    assert (s.horizon, s.max_reject_share) == (2, 0.2)


def test_source_has_no_default(settings):
    assert settings.source is None
