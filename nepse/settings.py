"""One frozen settings object, read from `NEPSE_*` environment variables and an optional TOML file.

Precedence, highest first: explicit overrides passed to `load_settings`, environment variables,
the config file named by `--config` or `NEPSE_CONFIG`, then the defaults below. Secrets
(`api_token`) are `SecretStr`: they are read from the environment (or a Prefect Secret block, see
`tasks/`) and never printed; a config file that sets them is refused. Market facts (price
limits, the trading week, session hours, costs) are not settings: they are the dated rules of
nepse/market/rules.toml. A removed setting still set anywhere is refused with one line saying
what replaced it (`REMOVED_SETTINGS`).
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from nepse import secrets
from nepse.errors import ConfigError
from nepse.settings_file import (  # noqa: F401  (REMOVED_SETTINGS, refuse_removed: callers)
    REMOVED_SETTINGS,
    SECRET_FIELDS,
    _config_file,
    _TomlFileSource,
    refuse_removed,
)

SEED_MAX = 2**31 - 1
"""Largest seed LightGBM and NumPy both take."""


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
    lock_timeout_s: float = Field(default=120.0, ge=0.0)
    """How long a step waits for a process outside the service's runs (a notebook, a script)
    that holds the DuckDB file before failing with an error naming that process's PID. Runs
    never wait here for each other: they queue on the writer slot (`writer_wait_s`)."""
    writer_wait_s: float = Field(default=3600.0, gt=0.0)
    """How long a run waits for the writer slot (the Prefect global concurrency limit
    `nepse-writer`, which one run at a time holds while it uses the database) before failing."""
    max_reject_share: float = Field(default=0.05, ge=0.0, le=1.0)
    """Daily quality gate: fail the day when more than this share of the scored day's rows was
    rejected."""
    max_missing_share: float = Field(default=0.5, ge=0.0, le=1.0)
    """Daily quality gate: fail the day when more than this share of the active equities that
    traded in each of the previous 5 sessions has no price on the scored day."""
    source_precedence: tuple[str, ...] = (
        "nepse_api",
        "nepse_today_price",
        "sharesansar_prices",
        "sharesansar_price_history",
        "nepalstock_legacy",
        "canonical",
    )
    """Which source kind's value `prices` holds where several sent a (symbol, date), first
    wins per column; a missing value never overwrites a present one. Kinds not listed come
    after, by name (docs/formats.md)."""
    source_precedence_by_column: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Per-column overrides of source_precedence, e.g. {"trades": ["nepalstock_legacy"]}."""
    conflict_tolerance: float = Field(default=0.01, ge=0.0)
    """Relative difference between two sources' values above which the pair is recorded in
    price_conflicts (0.01 = 1%)."""
    holiday_confirm_after_minutes: float = Field(default=30.0, ge=0.0)
    """An empty API day after the close is 'pending' until a second empty answer at least this
    long after the first confirms it as a holiday (0: the first answer confirms)."""

    # --- sources -----------------------------------------------------------------------
    source: str | None = None
    """Price source of a run without a `source` parameter: 'api', a folder of price files or
    recorded API pages, or 'sample' (the generated demo market). Unset: such a run fails and
    says what to set (generated data must never reach a real database by default)."""
    sample_symbols: int = Field(default=250, gt=0, le=100_000)
    """Sample market size in equities (source 'sample')."""
    sample_years: float = Field(default=6.0, gt=0.0, le=100.0)
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
    api_connect_timeout_s: float = Field(default=5.0, gt=0.0, le=600.0)
    """Connect timeout of one HTTP request."""
    api_read_timeout_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    """Read timeout of one HTTP request."""
    api_deadline_s: float = Field(default=90.0, gt=0.0, le=3600.0)
    """Longest one HTTP request may take, its whole answer read (a server sending a byte at a
    time never trips the read timeout): past it the request is a transient failure."""
    api_page_size: int = Field(default=500, gt=0, le=10_000)
    """Items per page asked of the API."""
    api_token_block: str | None = None
    """Name of a Prefect Secret block holding the API token, used when NEPSE_API_TOKEN is unset."""
    api_max_retry_after_s: float = Field(default=300.0, ge=0.0)
    """Longest 429/503 Retry-After honoured before a retry (longer asks are capped to this)."""
    stale_after_minutes: int = Field(default=60, ge=0)
    """Freshness: a trading day without data this long after its session close (the [[session]]
    table of nepse/market/rules.toml) is stale (alert)."""

    # --- model ---------------------------------------------------------------------------
    horizon: int = Field(default=1, ge=1, le=20)
    """Label horizon in trading days: y = adjusted close(t+h) / close(t) - 1."""
    label_transform: Literal["rank", "none"] = "rank"
    """What LightGBM fits: 'rank' = the label's cross-sectional rank per date (its score is
    mapped back to a return on the validation slice, see nepse/model/lgbm.py); 'none' = y_ret."""
    train_years: float = Field(default=8.0, gt=0.0, le=50.0)
    """Length of the training window for the final model and rolling walk-forward (years)."""
    walk_forward_window: Literal["expanding", "rolling"] = "expanding"
    """Walk-forward training window kind."""
    retrain_every: int = Field(default=21, ge=1, le=2520)
    """Walk-forward: retrain every N trading days."""
    valid_days: int = Field(default=60, ge=1, le=2520)
    """Early-stopping validation slice, cut from the end of each training window (days)."""
    test_start: date | None = None
    """First walk-forward test day; default: the last ~2 years of stored data."""
    seeds: tuple[Annotated[int, Field(ge=0, le=SEED_MAX)], ...] = Field(
        default=(0, 1, 2), min_length=1, max_length=100
    )
    """Seeds for the walk-forward (mean ± std over them)."""
    seed: int = Field(default=0, ge=0, le=SEED_MAX)
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
    num_boost_round: int = Field(default=150, ge=1, le=100_000)
    """Maximum boosting rounds (early stopping usually stops sooner)."""
    early_stopping_rounds: int = Field(default=15, ge=1, le=10_000)
    """Early stopping patience on the validation slice."""
    label: Literal["next_vwap", "next_close", "close_to_close"] = "next_vwap"
    """Label for training, evaluation and promotion (nepse/features/labels.py): 'next_vwap' buys
    at session t+1's VWAP and sells at session t+1+label_hold's VWAP; 'next_close' the same at
    closes (Qlib's label); 'close_to_close' = y_ret over `horizon` (not tradeable: it enters at
    close(t), gone when the prediction is made). Close-to-close figures are reported beside it."""
    label_hold: int = Field(default=5, ge=1, le=20)
    """Holding period of the tradeable labels in sessions (at least the settlement cycle in force,
    nepse/market/rules.toml)."""
    portfolio_top_k: int = Field(default=10, ge=1, le=10_000)
    """Portfolio (orders, paper ledger, backtest): hold up to k stocks, long only, equal rupees
    at entry, spreading to up to 2k names when capacity caps leave capital idle
    (nepse/portfolio/policy.py)."""
    portfolio_keep_k: int = Field(default=40, ge=0, le=10_000)
    """Portfolio no-trade band: a holding is kept while it ranks within the top k' of the
    tradeable universe (0 or <= top k: no band)."""
    portfolio_cadence_weeks: int = Field(default=8, ge=0, le=520)
    """Portfolio decisions on the first session of every n-th week (weeks Sunday to Saturday);
    0: every session. Between decisions the orders only finish the standing target. The default
    lost least net of costs on 2019-2023 (docs/model.md): trading less loses less."""
    portfolio_min_hold: int | None = Field(default=None, ge=0, le=2520)
    """Sessions a position is kept at least after it was opened; unset: NEPSE_LABEL_HOLD (the
    horizon the model was trained for)."""
    portfolio_sector_cap: int = Field(default=0, ge=0, le=10_000)
    """At most this many holdings per sector (0: no cap)."""
    portfolio_capital: float = Field(default=10_000_000.0, gt=0)
    """Capital in rupees the orders and the paper ledger start with (and the backtest's; it sets
    trade values, hence commission brackets and how much of a stock's turnover an order is)."""
    portfolio_turnover_share: float = Field(default=0.10, gt=0, le=1)
    """A new position is at most this share of the stock's turnover on the decision day, and a
    fill at most this share of the session's turnover (nepse/portfolio/fills.py)."""
    portfolio_investor: Literal["individual", "institution"] = "individual"
    """Capital-gains tax class of the portfolio (individual: 7.5 % under a year, 5 % over; 10 %)."""
    universe_min_sessions: int = Field(default=120, ge=0, le=10_000)
    """Tradeable universe: no stock in its first N sessions after its first trade
    (nepse/features/universe.py)."""
    universe_min_turnover: float = Field(default=2_000_000.0, ge=0)
    """Tradeable universe: no stock whose mean turnover over the last 20 sessions (no-trade
    sessions count 0) is under this many rupees."""
    universe_train: bool = False
    """Train (walk-forward, final model, promotion) on the tradeable universe's rows only; off:
    on every equity, which lost less through the portfolio on 2019-2023 (docs/model.md)."""
    dask_address: str | None = None
    """Address of an existing Dask scheduler the walk-forward fans out to (e.g.
    tcp://10.0.0.5:8786); empty: a local cluster of `dask_workers` processes on this machine."""
    dask_workers: int = Field(default=0, ge=0, le=1024)
    """Worker processes of the local training cluster; 0 = one per core. Each worker's LightGBM
    gets cores // workers threads (at least 1), so workers x threads never exceed the cores."""
    cost_bps: float = Field(default=40.0, ge=0.0, le=10_000.0)
    """Round-trip trading cost in basis points for the net top-minus-bottom spread."""
    promote_margin_champion: float = 0.0
    """A candidate must beat the champion's walk-forward Rank IC by more than this."""
    promote_margin_baseline: float = 0.0
    """A candidate must beat every baseline's walk-forward Rank IC by more than this."""
    promote_first_model: bool = False
    """When a daily run finds no champion, make the model it trains the champion even if it does
    not beat the baselines (the demo and the end-to-end test; the registry records that it was
    forced and why it would not have been promoted)."""

    # --- daily run, drift, monitoring ----------------------------------------------------
    drift_window_days: int = Field(default=5, ge=1, le=250)
    """Drift 'current' data: the last N sessions' cross-sections, compared with a reference
    window from the model's training period (nepse/monitoring/baseline.py)."""
    drift_reference_days: int = Field(default=120, ge=20, le=5000)
    """Drift reference: the last N sessions of the model's training period."""
    drift_calibration_days: int = Field(default=250, ge=50, le=10_000)
    """Drift alarm lines: the statistic over every window of the N sessions before the
    reference (each compared with that reference, as today's window is)."""
    drift_alarm_quantile: float = Field(default=0.995, gt=0.5, lt=1.0)
    """The drift alarms' family quantile: each of the k drift statistics alarms beyond its own
    1 - (1 - q)/k quantile of its history (Bonferroni), so that any one of them fires on at most
    1 - q of the calibration windows. The realised Rank IC alarms below the 1 - q quantile of its
    walk-forward distribution."""
    drift_report_columns: int = Field(default=8, ge=1, le=1000)
    """Evidently's drift page of the day shows the N features nearest (or beyond) their own
    alarm lines (the calibrated statistics always cover all of them)."""
    report_retention_days: int = Field(default=180, ge=0, le=36_500)
    """Drift pages (reports/<date>/) and Evidently workspace runs of days more than N calendar
    days before the scored day are deleted by the daily run (0: keep all); the report index keeps
    every day's row and verdict."""
    retrain_on_drift_days: int = Field(default=0, ge=0, le=10_000)
    """Start the train-model deployment after N consecutive drifted days (0: never)."""
    min_rolling_rank_ic: float = Field(default=0.0, ge=-1.0, le=1.0)
    """Alert when the 20-day rolling realised Rank IC falls below this."""
    rmse_alert_ratio: float = Field(default=1.5, gt=0.0, le=1000.0)
    """Alert when the realised RMSE over the last 20 out-of-sample days exceeds this multiple of
    the scoring model's walk-forward out-of-sample RMSE on the same label."""
    rmse_alert_min_days: int = Field(default=20, ge=1, le=10_000)
    """Out-of-sample prediction days evaluated before the RMSE alert may fire. Chosen on the
    real data's walk-forward days before 2024 (bench/rmse_alert_days.py): the smallest window
    with at most one new alarm episode a year (1 day: 8.0 a year, 10: 2.0, 20: 1.0); from 2024
    on, 20 days gave 0.5 a year."""
    reports_base_url: str | None = None
    """URL where the reports folder is served (e.g. by `nepse reports serve`); artifacts link
    there. Unset: they link the file:// path."""

    # --- live exchange and fallback (issue 14; docs/live-data.md) --------------------------
    api_protocol: Literal["auto", "exchange", "bearer"] = "auto"
    """Source 'api' speaks 'exchange' (nepalstock.com's own protocol through nepsepy) or
    'bearer' (a NEPSE-style today-price proxy taking NEPSE_API_TOKEN, no fallback). 'auto':
    'bearer' when an API token or token block is set, else 'exchange'."""
    api_dataset: Literal["real", "sample"] = "real"
    """What source 'api' serves: 'real', or 'sample' when it is the fake exchange serving the
    generated sample market (sample and real data never share a database)."""
    exchange_min_interval_s: float = Field(default=0.4, ge=0.0, le=60.0)
    """Least time between two requests to the exchange (rate-limit manners; 0 in tests)."""
    fallback_source: Literal["sharesansar", "none"] = "sharesansar"
    """Where a day comes from when the exchange fails or answers too few rows."""
    fallback_min_rows: int = Field(default=100, ge=0, le=100_000)
    """Fewer price rows than this from the exchange on a trading day: take the fallback's."""
    sharesansar_url: str = "https://www.sharesansar.com/today-share-price"
    """ShareSansar's today's-price page (the fallback source)."""

    # --- the predictions API `nepse api` (docs/api.md; not the price source's api_* above) ----
    api_listen_host: str = "127.0.0.1"
    """Address `nepse api` listens on; any but a loopback address needs NEPSE_API_KEY."""
    api_listen_port: int = Field(default=8770, ge=1, le=65535)
    """Port `nepse api` listens on."""
    api_key: SecretStr | None = None
    """Key every request to `nepse api` must carry as `Authorization: Bearer KEY` (secret:
    environment or Prefect Secret block only). Unset: no key (allowed on loopback only)."""
    api_key_block: str | None = None
    """Name of a Prefect Secret block holding the API key, used when NEPSE_API_KEY is unset."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"{value!r} is not an IANA time zone known here (e.g. Asia/Kathmandu)"
            ) from exc
        return value

    @property
    def database(self) -> Path:
        """The DuckDB file path actually used."""
        return self.db_path if self.db_path is not None else self.data_dir / "nepse.duckdb"

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
    refuse_removed(overrides, "load_settings()")
    refuse_removed(
        (k[len("NEPSE_") :] for k in os.environ if k.upper().startswith("NEPSE_")),
        "the environment (NEPSE_*)",
    )
    token = _config_file.set(Path(path) if path else None)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        from nepse.settings_errors import describe

        raise ConfigError(describe(exc, Settings)) from exc
    finally:
        _config_file.reset(token)
    for name in SECRET_FIELDS:
        secrets.register(getattr(settings, name))
    return settings
