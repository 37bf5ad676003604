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
from nepse.features.labels import add_label
from nepse.schema import EQUITY
from nepse.settings import Settings
from nepse.store import Store

log = logging.getLogger(__name__)

# A date counts as a trading day when at least this many symbols traded: a stray row on a
# holiday (a data error) must not invent a session.
MIN_SYMBOLS_PER_DAY = 3


@dataclass(frozen=True)
class Panel:
    """Features (+ label) per (symbol, date) for the universe, with the calendar used."""

    frame: pl.DataFrame
    calendar: TradingCalendar
    spec: FeatureSpec


def calendar_of(store: Store) -> TradingCalendar:
    """The trading calendar derived from the stored prices."""
    counts = store.con.sql(
        "SELECT date, count(*) AS n FROM prices GROUP BY date HAVING count(*) >= ? ORDER BY date",
        params=[MIN_SYMBOLS_PER_DAY],
    ).pl()
    return TradingCalendar.from_dates(counts["date"])


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


def build_panel(
    store: Store,
    settings: Settings,
    *,
    start: date | None = None,
    end: date | None = None,
    spec: FeatureSpec = FEATURE_SPEC,
    active_only: bool = False,
    label: bool = True,
) -> Panel:
    """Adjusted prices -> features (+ `y_ret` label) for the equity universe, dates start..end.

    Features need `spec.lookback_days` of history before `start`; the panel loads that much
    extra and trims it, so rows from `start` on equal those of a full-history build.
    """
    calendar = calendar_of(store)
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
    adjusted = adjust_prices(prices.lazy(), actions, settings=settings)
    lf = build_features(adjusted, securities, spec=spec)
    if label:
        lf = add_label(lf, horizon=settings.horizon, calendar=calendar)
    lf = lf.filter(universe(securities, active_only=active_only))
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


def scoring_frame(
    store: Store, settings: Settings, as_of: date, *, spec: FeatureSpec = FEATURE_SPEC
) -> pl.DataFrame:
    """Features of every active equity that traded on `as_of`, from the scoring window only.

    Loads `spec.lookback_days` trading days before `as_of`, so the cost of a daily run does not
    grow with the length of the stored history.
    """
    panel = build_panel(
        store, settings, start=as_of, end=as_of, spec=spec, active_only=True, label=False
    )
    frame = panel.frame.filter(pl.col("date") == as_of)
    if frame.is_empty():
        raise NotEnoughHistoryError(
            f"no active equity has prices on {as_of} in {store.path}: ingest that day first"
        )
    return frame
