"""The NEPSE trading calendar: past sessions from the stored prices, future ones from the rules.

A past trading day is a date on which at least `min_symbols` symbols have a stored row: NEPSE
closes for holidays, strikes, the 2015 earthquake and the 2020 lockdown, so no weekday rule is
right for the past. A day past the stored data is judged by the dated market rules
(nepse/market/rules.toml): `may_trade` says whether its weekday is in the trading week in force
then, `market_close` when its session ends. Holidays there are unknown until the exchange (or an
empty day after the close) says so.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl

from nepse.market.rules import market_rules


def may_trade(d: date) -> bool:
    """True when `d`'s weekday is in the trading week in force on `d` (it may be a holiday)."""
    return d.weekday() in market_rules().trading_weekdays(d)


def market_close(d: date, *, timezone: str = "Asia/Kathmandu") -> datetime:
    """The moment (aware) `d`'s continuous session ends; its closes are final only after it."""
    return datetime.combine(d, market_rules().close_time(d), tzinfo=ZoneInfo(timezone))


def after_close(d: date, *, now: datetime, timezone: str = "Asia/Kathmandu") -> bool:
    """True once `d`'s session close has passed in the market's time zone (`now` must be aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (the market day is judged in its zone)")
    return now >= market_close(d, timezone=timezone)


def today_in(tz: str = "Asia/Kathmandu", *, now: datetime | None = None) -> date:
    """Today's date in the market time zone (UTC+05:45 for Kathmandu, no daylight saving)."""
    moment = now if now is not None else datetime.now(ZoneInfo("UTC"))
    if moment.tzinfo is None:
        # A naive datetime is ambiguous; treat it as UTC rather than the machine's local zone.
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(tz)).date()


@dataclass(frozen=True)
class TradingCalendar:
    """Sorted stored trading days with day numbers (0 = the first stored day)."""

    days: tuple[date, ...]
    _index: dict[date, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        days = tuple(sorted(set(self.days)))
        object.__setattr__(self, "days", days)
        object.__setattr__(self, "_index", {d: i for i, d in enumerate(days)})

    @classmethod
    def from_dates(
        cls,
        dates: Iterable[date] | pl.Series | pl.DataFrame | pl.LazyFrame,
        *,
        min_symbols: int = 1,
    ) -> TradingCalendar:
        """Calendar of dates with >= `min_symbols` stored rows (distinct symbols for frames)."""
        if isinstance(dates, pl.LazyFrame | pl.DataFrame):
            lf = dates.lazy()
            names = lf.collect_schema().names()
            count = pl.col("symbol").n_unique() if "symbol" in names else pl.len()
            counts = lf.group_by("date").agg(count.alias("n")).collect()
        else:
            series = dates if isinstance(dates, pl.Series) else pl.Series(list(dates))
            counts = (
                pl.DataFrame({"date": series.cast(pl.Date)})
                .group_by("date")
                .agg(pl.len().alias("n"))
            )
        kept = counts.filter(pl.col("date").is_not_null() & (pl.col("n") >= min_symbols))
        return cls(days=tuple(kept["date"].to_list()))

    def day_no(self, d: date) -> int:
        """Trading-day number of `d`; raises KeyError with a hint when `d` is not a trading day."""
        try:
            return self._index[d]
        except KeyError:
            raise KeyError(
                f"{d} is not a stored trading day (use latest()/previous() to snap)"
            ) from None

    def previous(self, d: date) -> date | None:
        """The last trading day strictly before `d` (None before the first stored day)."""
        i = bisect.bisect_left(self.days, d)
        return self.days[i - 1] if i > 0 else None

    def latest(self, on_or_before: date | None = None) -> date | None:
        """The last stored trading day on or before `on_or_before` (default: the last one)."""
        if not self.days:
            return None
        if on_or_before is None:
            return self.days[-1]
        i = bisect.bisect_right(self.days, on_or_before)
        return self.days[i - 1] if i > 0 else None

    def __len__(self) -> int:
        return len(self.days)

    def __contains__(self, d: object) -> bool:
        return d in self._index
