"""The NEPSE trading calendar, derived from stored prices rather than from fixed weekdays.

A trading day is a date on which at least `min_symbols` symbols have a stored row. NEPSE traded
Sunday-Thursday for most of its history and Monday-Friday since 2026-04-10, and closes for
holidays, strikes, the 2015 earthquake and the 2020 lockdown, so no weekday rule is right for the
past. Past the end of the stored data the rule is: the next trading day is the next calendar day
whose weekday was traded in the last `pattern_days` (20) stored trading days. Holidays there are
unknown, so such days are a forecast, not a fact. A calendar built with
`weekday_rule=market_rules().trading_weekdays` (nepse/market/rules.toml) takes the week pattern
in force on each future date from the dated market-rules registry instead.
"""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import polars as pl

from nepse.errors import NotEnoughHistoryError

log = logging.getLogger(__name__)

PATTERN_DAYS = 20
# Continuous trading ends 15:00 Asia/Kathmandu; the day's closes are final only after that.
MARKET_CLOSE = time(15, 0)
# date.weekday() of Saturday: NEPSE has never traded on one (Sun-Thu, then Mon-Fri from
# 2026-04-10); every other closure is irregular and known only from the data or the API.
SATURDAY = 5


def may_trade(d: date) -> bool:
    """False for the one weekday NEPSE never trades (Saturday); any other day may be a session."""
    return d.weekday() != SATURDAY


def after_close(d: date, *, now: datetime, timezone: str = "Asia/Kathmandu") -> bool:
    """True once `d`'s 15:00 close has passed in the market's time zone (`now` must be aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (the market day is judged in its zone)")
    local = now.astimezone(ZoneInfo(timezone))
    return d < local.date() or (d == local.date() and local.time() >= MARKET_CLOSE)


def today_in(tz: str = "Asia/Kathmandu", *, now: datetime | None = None) -> date:
    """Today's date in the market time zone (UTC+05:45 for Kathmandu, no daylight saving)."""
    moment = now if now is not None else datetime.now(ZoneInfo("UTC"))
    if moment.tzinfo is None:
        # A naive datetime is ambiguous; treat it as UTC rather than the machine's local zone.
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(tz)).date()


@dataclass(frozen=True)
class TradingCalendar:
    """Sorted trading days with day numbers; `next` extrapolates past the data by weekday."""

    days: tuple[date, ...]
    pattern_days: int = PATTERN_DAYS
    weekday_rule: Callable[[date], frozenset[int]] | None = field(default=None, compare=False)
    """Weekdays traded on a date past the data (e.g. the market-rules registry's); None: the
    weekdays of the last `pattern_days` stored days."""
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
        pattern_days: int = PATTERN_DAYS,
        weekday_rule: Callable[[date], frozenset[int]] | None = None,
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
        return cls(
            days=tuple(kept["date"].to_list()), pattern_days=pattern_days, weekday_rule=weekday_rule
        )

    # --- lookups inside the data -------------------------------------------------------------
    @property
    def index(self) -> dict[date, int]:
        """Trading-day number of every trading day (0 = first stored day)."""
        return dict(self._index)

    def frame(self) -> pl.DataFrame:
        """The calendar as a frame (date, day_no) for joins in Polars steps."""
        return pl.DataFrame(
            {"date": list(self.days), "day_no": list(range(len(self.days)))},
            schema={"date": pl.Date(), "day_no": pl.Int64()},
        )

    def day_no(self, d: date) -> int:
        """Trading-day number of `d`; raises KeyError with a hint when `d` is not a trading day."""
        try:
            return self._index[d]
        except KeyError:
            raise KeyError(
                f"{d} is not a stored trading day (use latest()/next() to snap)"
            ) from None

    def is_trading_day(self, d: date) -> bool:
        """True for stored trading days; past the data, whether `d`'s weekday is now traded."""
        if self.days and d > self.days[-1]:
            return d.weekday() in self._weekdays_on(d)
        return d in self._index

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

    def next(self, d: date) -> date:
        """The first trading day strictly after `d`; past the data, by the recent-weekday rule."""
        i = bisect.bisect_right(self.days, d)
        if i < len(self.days):
            return self.days[i]
        candidate = d + timedelta(days=1)
        while candidate.weekday() not in self._weekdays_on(candidate):
            candidate += timedelta(days=1)
        return candidate

    def _weekdays_on(self, d: date) -> frozenset[int]:
        if self.weekday_rule is not None:
            return self.weekday_rule(d)
        return self.recent_weekdays()

    def recent_weekdays(self) -> frozenset[int]:
        """Weekdays (Monday=0) traded in the last `pattern_days` stored trading days."""
        if not self.days:
            raise NotEnoughHistoryError(
                "the trading calendar is empty: store prices first (nepse ingest) so trading "
                "days can be derived from them"
            )
        return frozenset(d.weekday() for d in self.days[-self.pattern_days :])

    def __len__(self) -> int:
        return len(self.days)

    def __contains__(self, d: object) -> bool:
        return d in self._index
