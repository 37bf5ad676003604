"""One frozen settings object, read from `NEPSE_*` environment variables and an optional TOML file.

Precedence, highest first: explicit overrides passed to `load_settings`, environment variables,
the config file named by `--config` or `NEPSE_CONFIG`, then the defaults below. Secrets
(`api_token`, `webhook_url`) are `SecretStr`: they are read from the environment (or a Prefect
Secret block, see `tasks/`) and never printed; a config file that sets them is refused.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from nepse.errors import ConfigError

SECRET_FIELDS = ("api_token", "webhook_url")

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
        data = data.get("nepse", data)
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


class Settings(BaseSettings):
    """Every knob of the service. Field docstrings are the documentation (`nepse config`)."""

    model_config = SettingsConfigDict(
        env_prefix="NEPSE_",
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=True,
    )

    # --- where things live -------------------------------------------------------------
    data_dir: Path = Path("data")
    """Folder for reports, models, predictions and raw API answers."""
    db_path: Path | None = None
    """DuckDB database file; default `<data_dir>/nepse.duckdb`."""
    timezone: str = "Asia/Kathmandu"
    """Market time zone: 'today' and the latest trading day are judged in it."""

    # --- ingestion and data quality ----------------------------------------------------
    non_equity_policy: Literal["keep", "skip"] = "keep"
    """Rows of symbols the securities master lists as non-equity (debentures, mutual funds):
    'keep' stores them (the model universe still excludes them), 'skip' sends them to
    rejected_prices with reason not_equity."""
    ohlc_policy: Literal["repair", "reject"] = "repair"
    """Open/high/low outside a valid range: 'repair' widens high/low to contain open and close
    and flags the row ohlc_repaired; 'reject' quarantines it with reason ohlc_inconsistent."""
    price_limit_before: float = 0.10
    """Per-stock daily price limit until price_limit_change_date (fraction)."""
    price_limit_after: float = 0.15
    """Per-stock daily price limit from price_limit_change_date on (fraction)."""
    price_limit_change_date: date = date(2026, 4, 20)
    """First trading day of the wider price limit."""
    lock_timeout_s: float = 0.0
    """How long one attempt waits for another writer to release the database (0: fail at once;
    Prefect task retries add backoff on top)."""
    max_reject_share: float = 0.05
    """Daily quality gate: fail the day when more than this share of its rows was rejected."""

    # --- sources -----------------------------------------------------------------------
    source: str = "sample"
    """Default price source: 'sample', a path to files, or 'api'."""
    sample_symbols: int = 250
    """Sample market size in equities (source 'sample')."""
    sample_years: float = 6.0
    """Sample market history in years (source 'sample')."""
    sample_seed: int = 42
    """Sample market seed (source 'sample'): same seed, same files."""
    api_base_url: str = "https://nepalstock.com.np"
    """Base URL of the NEPSE-style today-price JSON API."""
    api_token: SecretStr | None = None
    """Bearer token for the API (secret: environment or Prefect Secret block only)."""
    api_ca_bundle: Path | None = None
    """CA bundle for the API's certificate chain (NEPSE's chain is incomplete)."""
    api_verify_tls: bool = True
    """Verify TLS certificates. Turning it off is logged as a warning on every request."""
    api_connect_timeout_s: float = 5.0
    """Connect timeout of one HTTP request."""
    api_read_timeout_s: float = 30.0
    """Read timeout of one HTTP request."""
    api_page_size: int = 500
    """Items per page asked of the API."""
    api_token_block: str | None = None
    """Name of a Prefect Secret block holding the API token, used when NEPSE_API_TOKEN is unset."""
    api_max_retry_after_s: float = 300.0
    """Longest 429/503 Retry-After honoured before a retry (longer asks are capped to this)."""
    stale_after_minutes: int = 60
    """Freshness: a trading day without data this long after the 15:00 close is stale (alert)."""

    # --- model ---------------------------------------------------------------------------
    horizon: int = Field(default=1, ge=1, le=20)
    """Label horizon in trading days: y = adjusted close(t+h) / close(t) - 1."""
    label_transform: Literal["rank", "none"] = "rank"
    """What LightGBM fits: 'rank' = the label's cross-sectional rank per date (its score is
    mapped back to a return on the validation slice, see nepse/model/lgbm.py); 'none' = y_ret."""
    train_years: float = 8.0
    """Length of the training window for the final model and rolling walk-forward (years)."""
    walk_forward_window: Literal["expanding", "rolling"] = "expanding"
    """Walk-forward training window kind."""
    retrain_every: int = 21
    """Walk-forward: retrain every N trading days."""
    valid_days: int = 60
    """Early-stopping validation slice, cut from the end of each training window (days)."""
    test_start: date | None = None
    """First walk-forward test day; default: the last ~2 years of stored data."""
    seeds: tuple[int, ...] = (0, 1, 2)
    """Seeds for the walk-forward (mean ± std over them)."""
    seed: int = 0
    """Seed of the final model."""
    lgbm_params: dict[str, Any] = Field(
        default_factory=lambda: {
            "objective": "regression",
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_data_in_leaf": 200,
            "feature_fraction": 0.7,
            "bagging_fraction": 0.5,
            "bagging_freq": 1,
            "lambda_l2": 10.0,
            "max_bin": 63,
            "force_col_wise": True,
            "num_threads": 2,
            "verbose": -1,
        }
    )
    """LightGBM parameters (merged over these defaults). Chosen on a validation walk-forward over
    2016-2018 (docs/model.md): learning rate 0.1 and 63 bins keep the monthly walk-forward within
    minutes on 2 cores at a small cost in Rank IC versus 0.05/255."""
    num_boost_round: int = 150
    """Maximum boosting rounds (early stopping usually stops sooner)."""
    early_stopping_rounds: int = 15
    """Early stopping patience on the validation slice."""
    cost_bps: float = 40.0
    """Round-trip trading cost in basis points for the net top-minus-bottom spread."""
    promote_margin_champion: float = 0.0
    """A candidate must beat the champion's walk-forward Rank IC by more than this."""
    promote_margin_baseline: float = 0.0
    """A candidate must beat every baseline's walk-forward Rank IC by more than this."""

    # --- daily run, drift, monitoring ----------------------------------------------------
    drift_window_days: int = Field(default=5, ge=1)
    """Drift 'current' data: the last N sessions' cross-sections, compared with a reference
    window from the model's training period (nepse/monitoring/baseline.py)."""
    drift_reference_days: int = Field(default=120, ge=20)
    """Drift reference: the last N sessions of the model's training period."""
    drift_calibration_days: int = Field(default=250, ge=50)
    """Drift alarm lines: the statistic over every window of the N sessions before the
    reference (each compared with that reference, as today's window is)."""
    drift_alarm_quantile: float = Field(default=0.995, gt=0.5, lt=1.0)
    """Alarm when a statistic is beyond this quantile of its own history (the realised Rank IC:
    below the 1 - quantile of its walk-forward distribution)."""
    drift_report_columns: int = Field(default=8, ge=1)
    """Evidently's HTML drift report shows the N features farthest from the reference (the
    calibrated statistic always covers all of them)."""
    drift_max_features: int = 0
    """Drift report over the model's N most important features (by gain); 0: all of them.
    Evidently's cost grows with the columns (~0.15 s each)."""
    drift_share_threshold: float = 0.5
    """Share of drifted feature columns above which the dataset counts as drifted."""
    retrain_on_drift_days: int = 0
    """Start the train-model deployment after N consecutive drifted days (0: never)."""
    min_rolling_rank_ic: float = 0.0
    """Alert when the 20-day rolling realised Rank IC falls below this."""
    rmse_alert_ratio: float = 1.5
    """Alert when the rolling realised RMSE exceeds this multiple of the training RMSE."""
    webhook_url: SecretStr | None = None
    """Unused since alerts are delivered by the notification block NEPSE_ALERT_BLOCK (kept so
    existing configurations still load)."""
    reports_base_url: str | None = None
    """URL where the reports folder is served (e.g. by `nepse reports serve`); artifacts link
    there. Unset: they link the file:// path."""
    webhook_secret_block: str | None = None
    """Unused since alerts are delivered by the notification block NEPSE_ALERT_BLOCK."""
    alert_block: str | None = None
    """Prefect notification block that delivers alerts, as 'block-type-slug/name' (e.g.
    'slack-webhook/nepse-alerts', 'custom-webhook/nepse-alerts'). Unset: alerts are only in the
    flow run's logs."""

    @property
    def database(self) -> Path:
        """The DuckDB file path actually used."""
        return self.db_path if self.db_path is not None else self.data_dir / "nepse.duckdb"

    def price_limit(self, day: date) -> float:
        """The daily price limit (fraction) in force on `day`."""
        return (
            self.price_limit_after
            if day >= self.price_limit_change_date
            else self.price_limit_before
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlFileSource(settings_cls, _config_file.get()))

    def public_dict(self) -> dict[str, Any]:
        """Effective settings with secrets masked, for printing and artifacts."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                value = "**********" if value is not None else None
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        out["database"] = str(self.database)
        return out


def load_settings(config: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from overrides, environment and config file (`config` or NEPSE_CONFIG)."""
    path = config or os.environ.get("NEPSE_CONFIG") or None
    token = _config_file.set(Path(path) if path else None)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {exc}") from exc
    finally:
        _config_file.reset(token)
