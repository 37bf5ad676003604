"""Labels: the only place in the library where a value from a later date is used.

The prediction for day t is made after t's session close (nepse/market/rules.toml), so
nobody can trade at close(t): the first prices one can trade at come from session t+1. Sessions
are the market's trading days (`calendar`), not the symbol's rows. Every label is null when the
symbol has no row on a session it needs (it did not trade), when t is not a calendar day, or
when a break (`is_break`) lies on any of the symbol's rows in (t, last session used].

Horizons, exactly (h = `hold`, a number of sessions):

- `y_ret` (label "close_to_close"): adj_close(t+h) / adj_close(t) - 1. Not tradeable: it
  enters at a price that was gone when the prediction was made. Kept for comparison.
- `y_next_close` ("next_close", Qlib's `Ref($close, -1-h) / Ref($close, -1) - 1`; h = 1 is
  Qlib's default label): buy at adj_close(t+1), sell at adj_close(t+1+h).
- `y_next_vwap` ("next_vwap"): buy at the VWAP of session t+1 (turnover / volume, adjusted by
  the row's adj_factor), sell at the VWAP of session t+1+h.

Settlement: shares bought in session t+1 settle T+2 (nepse/market/rules.toml), so they can be
sold from session t+3 on: a tradeable label needs h >= the settlement cycle (2 sessions);
`check_hold` enforces it. h = 1 (Qlib's label) is a signal, not a round trip anyone can make.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from nepse.calendar import TradingCalendar
from nepse.features.universe import tradeable
from nepse.market.rules import market_rules
from nepse.settings import Settings

CLOSE_TO_CLOSE = "close_to_close"
NEXT_CLOSE = "next_close"
NEXT_VWAP = "next_vwap"
LABEL_COLUMNS: dict[str, str] = {
    CLOSE_TO_CLOSE: "y_ret",
    NEXT_CLOSE: "y_next_close",
    NEXT_VWAP: "y_next_vwap",
}
TRADEABLE = (NEXT_CLOSE, NEXT_VWAP)


def label_column(name: str) -> str:
    """Column of label `name` ('close_to_close', 'next_close', 'next_vwap')."""
    try:
        return LABEL_COLUMNS[name]
    except KeyError:
        raise ValueError(f"unknown label {name!r}; choose one of {sorted(LABEL_COLUMNS)}") from None


def label_words(name: str, hold: int) -> str:
    """What label `name` with holding period `hold` earns, in the words every user-facing text
    uses (README, artifacts, report index, model card): "the return of <these words>"."""
    sessions = f"{hold} session{'s' if hold != 1 else ''}"
    words = {
        NEXT_VWAP: f"buying at the next session's VWAP and selling at the VWAP {sessions} later",
        NEXT_CLOSE: f"buying at the next session's close and selling at the close {sessions} later",
        CLOSE_TO_CLOSE: f"holding from today's adjusted close to the close {sessions} later (not "
        "tradeable: today's close is gone when the prediction is made)",
    }
    if name not in words:
        raise ValueError(f"unknown label {name!r}; choose one of {sorted(LABEL_COLUMNS)}")
    return words[name]


def predicted_return_text(name: str, hold: int) -> str:
    """The sentence saying what `pred_ret` predicts (one phrase for every text)."""
    return f"Predicted return = the return of {label_words(name, hold)} (label `{name}`)"


def label_of_model(meta: dict, settings: Settings) -> tuple[str, int]:
    """(label name, holding period) a model was trained on, from its meta.json; the settings'
    label for a model without one (the naive baseline)."""
    label = meta.get("label")
    if label:
        return label["name"], int(label["hold"])
    if meta:
        return CLOSE_TO_CLOSE, int(meta.get("horizon", 1))
    if settings.label == CLOSE_TO_CLOSE:
        return CLOSE_TO_CLOSE, settings.horizon
    return settings.label, settings.label_hold


def label_reach(name: str, hold: int) -> int:
    """Sessions after t whose prices the label uses (the walk-forward's embargo)."""
    return hold if name == CLOSE_TO_CLOSE else hold + 1


def check_hold(name: str, hold: int, *, on: date | None = None) -> None:
    """Refuse a tradeable label whose holding period is shorter than settlement on `on`."""
    if hold < 1:
        raise ValueError(f"holding period must be >= 1 session, got {hold}")
    if name in TRADEABLE:
        need = market_rules().settlement_days(on or date.today())
        if hold < need:
            raise ValueError(
                f"label {name!r} with hold={hold}: shares settle T+{need}, so a round trip holds "
                f"at least {need} sessions (set NEPSE_LABEL_HOLD >= {need})"
            )


def vwap_expr() -> pl.Expr:
    """Adjusted session VWAP: turnover / volume on the adjusted price scale (null if no volume)."""
    vol, turnover = pl.col("volume"), pl.col("turnover")
    raw = pl.when((vol > 0) & (turnover > 0)).then(turnover / vol).otherwise(None)
    return raw * pl.col("adj_factor")


def _day_no(calendar: TradingCalendar) -> pl.Expr:
    return pl.col("date").replace_strict(
        list(calendar.days), list(range(len(calendar))), default=None, return_dtype=pl.Int64
    )


_PRICES = ("adj_close", "turnover", "volume", "adj_factor")
"""What the labels read besides the keys and breaks (vwap_expr: turnover, volume, factor)."""


def _labelled(
    lf: pl.LazyFrame, calendar: TradingCalendar, labels: dict[str, pl.Expr]
) -> pl.LazyFrame:
    """`lf` with the `labels` columns (built with `_ahead`), computed on whole columns sorted by
    (symbol, date); rows in `lf`'s order. (symbol, date) must be unique, as in stored prices.

    A symbol's rows are contiguous after the sort: a row k rows ahead belongs to the same
    symbol exactly where the symbol number (`_lsid`) is the same, and the running count of
    breaks (`_lbrk`) is the same exactly where no break lies between. The same labels as
    `.over("symbol", order_by="date")`, ~7x faster (the daily build's 212 K rows: 281-318 ->
    36-50 ms).
    """
    sym = pl.col("symbol")
    have = lf.collect_schema().names()
    inputs = [c for c in ("symbol", "date", "is_break", *_PRICES) if c in have]
    values = (
        lf.select(*inputs)
        .sort("symbol", "date")
        .with_columns(
            _lsid=(sym != sym.shift(1)).fill_null(True).cum_sum(),
            _ldn=_day_no(calendar),
            _lbrk=pl.col("is_break").fill_null(False).cum_sum(),
        )
        .with_columns(**labels)
        .select("symbol", "date", *labels)
    )
    # Only the few columns the labels read are sorted; joined back on the keys (unique per
    # row), so the frame keeps its rows and their order, whatever order a second evaluation
    # of `lf` would produce.
    return lf.drop(*labels, strict=False).join(
        values, on=["symbol", "date"], how="left", maintain_order="left"
    )


def _ahead(value: pl.Expr, sessions: int) -> pl.Expr:
    """`value` on the symbol's row exactly `sessions` sessions ahead, with no break on the way
    (inside `_labelled`)."""
    # Day numbers rise per row, so that row is at most `sessions` rows ahead: look at the next
    # rows instead of joining each horizon's day back.
    sid, day_no, breaks = pl.col("_lsid"), pl.col("_ldn"), pl.col("_lbrk")
    out: pl.Expr = pl.lit(None, pl.Float64)
    for k in range(sessions, 0, -1):
        ok = (
            (sid.shift(-k) == sid)
            & (day_no.shift(-k) == day_no + sessions)
            & (breaks.shift(-k) == breaks)
        )
        out = pl.when(ok).then(value.shift(-k)).otherwise(out)
    return out


def _close_to_close(horizon: int) -> dict[str, pl.Expr]:
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 trading day, got {horizon}")
    close = pl.col("adj_close")
    return {"y_ret": _ahead(close, horizon) / close - 1.0}


def _tradeable(hold: int) -> dict[str, pl.Expr]:
    if hold < 1:
        raise ValueError(f"hold must be >= 1 session, got {hold}")
    close, vwap = pl.col("adj_close"), vwap_expr()
    return {
        "y_next_close": (_ahead(close, hold + 1) / _ahead(close, 1) - 1.0).fill_nan(None),
        "y_next_vwap": (_ahead(vwap, hold + 1) / _ahead(vwap, 1) - 1.0).fill_nan(None),
    }


def add_label(lf: pl.LazyFrame, *, horizon: int = 1, calendar: TradingCalendar) -> pl.LazyFrame:
    """Add `y_ret` = adj_close(t+h) / adj_close(t) - 1, h = `horizon` sessions (not tradeable)."""
    return _labelled(lf, calendar, _close_to_close(horizon))


def add_tradeable_labels(lf: pl.LazyFrame, *, hold: int, calendar: TradingCalendar) -> pl.LazyFrame:
    """Add `y_next_close` and `y_next_vwap`: entry in session t+1, exit in session t+1+`hold`."""
    return _labelled(lf, calendar, _tradeable(hold))


def add_labels(
    lf: pl.LazyFrame, *, horizon: int, hold: int, calendar: TradingCalendar
) -> pl.LazyFrame:
    """Every label side by side: `y_ret` (close to close, `horizon`) and the tradeable ones."""
    return _labelled(lf, calendar, {**_close_to_close(horizon), **_tradeable(hold)})


def training_view(frame: pl.DataFrame, settings: Settings) -> tuple[pl.DataFrame, Settings]:
    """The panel as the model code reads it: `y_ret` := the label of `settings.label`, and with
    `settings.universe_train` only the rows of the tradeable universe.

    The close-to-close label stays as `y_cc`; the settings returned have `horizon` = the
    label's reach, so every embargo (walk-forward, final model) covers the sessions it uses.
    Training, the walk-forward and promotion all read the panel through here, so the setting
    holds for all three (docs/model.md measures it against training on every equity).
    """
    col = label_column(settings.label)
    check_hold(settings.label, settings.label_hold)
    if settings.universe_train and "turnover_mean" in frame.columns:
        keep = tradeable(settings.universe_min_sessions, settings.universe_min_turnover)
        frame = frame.filter(keep)  # the tradeable universe (nepse/features/universe.py)
    if col == "y_ret":
        return frame, settings
    view = frame.with_columns(y_cc=pl.col("y_ret"), y_ret=pl.col(col))
    reach = label_reach(settings.label, settings.label_hold)
    return view, settings.model_copy(update={"horizon": reach})
