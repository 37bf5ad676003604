"""From stored prices to model-ready panels: adjust, build features, add labels, pick the universe.

The only module that strings the domain steps together; training, scoring and evaluation all
use it so that a feature means the same thing everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

import polars as pl

from nepse.calendar import TradingCalendar
from nepse.errors import NotEnoughHistoryError
from nepse.features import FEATURE_SPEC, FeatureSpec, build_features
from nepse.features.adjust import adjust_prices
from nepse.features.labels import LABEL_COLUMNS, add_labels
from nepse.features.universe import universe_inputs
from nepse.schema import EQUITY, KEYS
from nepse.settings import Settings
from nepse.store import Store

log = logging.getLogger(__name__)

# A date counts as a trading day when at least this many symbols traded: a stray row on a
# holiday (a data error) must not invent a session.
MIN_SYMBOLS_PER_DAY = 3
LABEL_KEYS = KEYS


@dataclass(frozen=True)
class Panel:
    """Features (+ label) per (symbol, date) for the universe, with the calendar used."""

    frame: pl.DataFrame
    calendar: TradingCalendar
    spec: FeatureSpec


def calendar_of(store: Store) -> TradingCalendar:
    """The trading calendar derived from the stored prices."""
    return TradingCalendar.from_dates(store.trading_dates(MIN_SYMBOLS_PER_DAY))


def universe(securities: pl.DataFrame, *, active_only: bool) -> pl.Expr:
    """Filter expression on `symbol`: equities per the securities master (active ones if asked).

    Without any master loaded every symbol is kept. Symbols missing from a loaded master are
    left out: NEPSE's master omits promoter shares, debentures and funds as well as delisted
    equities, so absence is not evidence of an equity.
    """
    if securities.is_empty():
        return pl.lit(True)
    eq = securities.filter(pl.col("instrument_type") == EQUITY)
    if active_only:
        eq = eq.filter(pl.col("status").fill_null("A") == "A")
    return pl.col("symbol").is_in(eq["symbol"].implode())


def in_universe(
    lf: pl.LazyFrame,
    securities: pl.DataFrame,
    history: pl.DataFrame,
    *,
    active_only: bool,
) -> pl.LazyFrame:
    """Rows whose symbol was, on the row's date, an equity (and active, if asked).

    Symbols with a recorded history (nepse/store/security_history.py) are judged by the version
    in force on each date, so a symbol delisted later stays in the universe of the days it
    traded; symbols without one fall back to `universe` (the master as last seen).
    """
    if history.is_empty():
        return lf.filter(universe(securities, active_only=active_only))
    # A delisted security's later lists may omit its instrument type: take the known one.
    known = securities.select("symbol", pl.col("instrument_type").alias("_master_type"))
    versions = (
        history.join(known, on="symbol", how="left")
        .with_columns(
            pl.coalesce(
                "instrument_type",
                pl.col("instrument_type").drop_nulls().first().over("symbol"),
                "_master_type",
            ).alias("instrument_type")
        )
        .filter(pl.col("instrument_type") == EQUITY)
    )
    if active_only:
        versions = versions.filter(pl.col("status").fill_null("A") == "A")
    spans = versions.select(
        "symbol", pl.col("valid_from").alias("_from"), pl.col("valid_to").alias("_to")
    )
    tracked = history["symbol"].unique().implode()
    in_force = (pl.col("_from").is_null() | (pl.col("_from") <= pl.col("date"))) & (
        pl.col("_to").is_null() | (pl.col("date") <= pl.col("_to"))
    )
    names = lf.collect_schema().names()
    lf = lf.with_row_index("_i")  # keep the input's row order
    judged = lf.filter(pl.col("symbol").is_in(tracked)).join(spans.lazy(), on="symbol", how="inner")
    return (
        pl.concat(
            [
                judged.filter(in_force).select("_i", *names).unique("_i"),
                lf.filter(~pl.col("symbol").is_in(tracked)).filter(
                    universe(securities, active_only=active_only)
                ),
            ]
        )
        .sort("_i")
        .drop("_i")
    )


def build_panel(
    store: Store,
    settings: Settings,
    *,
    start: date | None = None,
    end: date | None = None,
    spec: FeatureSpec = FEATURE_SPEC,
    active_only: bool = False,
    label: bool = True,
    calendar: TradingCalendar | None = None,
) -> Panel:
    """Adjusted prices -> features (+ every label, see labels.py) for the equity universe.

    Features need `spec.lookback_days` of history before `start`; the panel loads that much
    extra and trims it, so rows from `start` on equal those of a full-history build.
    """
    calendar = calendar_of(store) if calendar is None else calendar
    if not len(calendar):
        raise NotEnoughHistoryError(
            f"no prices stored in {store.path}: run `nepse ingest PATH` (or `nepse demo`) first"
        )
    load_from = None
    if start is not None:
        first = calendar.latest(on_or_before=start) or calendar.days[0]
        i = calendar.day_no(first)
        load_from = calendar.days[max(0, i - spec.lookback_days)]
    prices = store.prices(start=load_from, end=end)
    securities = store.securities()
    actions = store.corporate_actions()
    adjusted = adjust_prices(prices.lazy(), actions)
    lf = build_features(adjusted, securities, spec=spec)
    if label:
        # Labels need raw turnover/volume (VWAP), which the feature step drops: build them on
        # the adjusted prices and join them on.
        labels = add_labels(
            adjusted, horizon=settings.horizon, hold=settings.label_hold, calendar=calendar
        ).select(*LABEL_KEYS, *LABEL_COLUMNS.values())
        lf = lf.join(labels, on=list(LABEL_KEYS), how="left")
    # The tradeable universe's inputs (training keeps its rows: features/labels.training_view).
    inputs = universe_inputs(
        prices.lazy().select("symbol", "date", "turnover"),
        sessions=calendar.days,
        listed=store.first_trade_dates().lazy(),
    )
    lf = lf.join(inputs, on=list(LABEL_KEYS), how="left")
    lf = in_universe(lf, securities, store.security_history(), active_only=active_only)
    if start is not None:
        lf = lf.filter(pl.col("date") >= start)
    # In memory: the streaming engine runs the whole-column feature steps ~1.5x slower.
    frame = lf.collect(engine="in-memory")
    log.info(
        "panel: %d rows, %d symbols, %s..%s",
        frame.height,
        frame["symbol"].n_unique(),
        frame["date"].min(),
        frame["date"].max(),
    )
    return Panel(frame=frame, calendar=calendar, spec=spec)


@dataclass(frozen=True)
class DayPanel:
    """One build for a daily run: the scoring day's features and the labels of earlier days."""

    features: pl.DataFrame
    """Features of every active equity that traded on the scoring day (spec names, keys)."""
    labels: pl.DataFrame
    """(symbol, date, every label column) of the days from `labels_from` to the scoring day."""
    calendar: TradingCalendar
    window: pl.DataFrame | None = None
    """Features (no labels) of the last `window` sessions up to the scoring day, every equity
    of the universe: the drift step's current window, from the same build."""


def build_day(
    store: Store,
    settings: Settings,
    as_of: date,
    *,
    labels_from: date | None = None,
    window: int = 1,
    spec: FeatureSpec = FEATURE_SPEC,
) -> DayPanel:
    """The daily run's one feature build: score `as_of`, label earlier prediction days, and
    the features of the last `window` sessions (drift).

    Loads `spec.lookback_days` trading days before the earliest day needed, so the cost of a
    daily run does not grow with the length of the stored history. Features of `as_of` equal
    those of a full-history build (tests/unit/features/test_features.py measures the lookback).
    """
    calendar = calendar_of(store)
    on = calendar.latest(on_or_before=as_of)
    first = calendar.days[max(0, calendar.day_no(on) - window + 1)] if on else as_of
    start = min(as_of, first, labels_from or as_of)
    panel = build_panel(
        store, settings, start=start, end=as_of, spec=spec, label=True, calendar=calendar
    )
    features = in_universe(
        panel.frame.lazy().filter(pl.col("date") == as_of),
        store.securities(),
        store.security_history(),
        active_only=True,
    ).collect()
    if features.is_empty():
        raise NotEnoughHistoryError(
            f"no active equity has prices on {as_of} in {store.path}: ingest that day first"
        )
    labels = panel.frame.filter(pl.col("date") < as_of).select(
        "symbol", "date", *[c for c in LABEL_COLUMNS.values() if c in panel.frame.columns]
    )
    recent = panel.frame.filter(pl.col("date").is_between(first, as_of))
    return DayPanel(
        features=features.drop("y_ret"),
        labels=labels,
        calendar=panel.calendar,
        window=recent.drop(*[c for c in LABEL_COLUMNS.values() if c in recent.columns]),
    )


def scoring_frame(
    store: Store, settings: Settings, as_of: date, *, spec: FeatureSpec = FEATURE_SPEC
) -> pl.DataFrame:
    """Features of every active equity that traded on `as_of`, from the scoring window only."""
    return build_day(store, settings, as_of, spec=spec).features
