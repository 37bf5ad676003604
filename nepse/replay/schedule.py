"""The deployments' schedules as prefect.yaml declares them, replayed over past days.

A replay runs `train-model` where its cron (read from prefect.yaml, never restated here) fires
between one replayed daily run and the next, and each daily run at the time of day its own cron
names, on the trading day itself (the daily cron's weekdays follow today's trading week; a
replay of an earlier season runs on the days the source traded). Cron times are read with
`cronsim` (Prefect's own dependency) in each schedule's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from cronsim import CronSim, CronSimError

from nepse.errors import ConfigError

PREFECT_YAML = Path(__file__).resolve().parents[2] / "prefect.yaml"
"""The project's deployments (the repository's root, next to the `nepse` package)."""
DAILY = "daily-predictions"
TRAIN = "train-model"


@dataclass(frozen=True)
class Cron:
    """One schedule of a deployment: its cron expression and time zone."""

    deployment: str
    cron: str
    timezone: str

    def fires(self, after: datetime, until: datetime) -> list[datetime]:
        """The moments the schedule fires in (after, until]."""
        out = []
        for moment in CronSim(self.cron, after.astimezone(ZoneInfo(self.timezone))):
            if moment > until:
                return out
            out.append(moment)
        return out  # pragma: no cover  (CronSim never ends)

    def time_of_day(self) -> time:
        """The time of day the schedule fires at (its first firing after midnight)."""
        start = datetime(2000, 1, 1, tzinfo=ZoneInfo(self.timezone))
        return next(CronSim(self.cron, start)).timetz()


@dataclass(frozen=True)
class Schedule:
    """The daily run's and the weekly training's schedules."""

    daily: Cron
    train: Cron

    def daily_moment(self, day: date) -> datetime:
        """When the daily run of `day` runs: the day at its cron's time, in its time zone."""
        return datetime.combine(day, self.daily.time_of_day())

    def trainings(self, previous: date | None, day: date) -> list[datetime]:
        """The train-model firings between the daily run of `previous` and that of `day`."""
        if previous is None:
            return []
        return self.train.fires(self.daily_moment(previous), self.daily_moment(day))


def load_schedule(path: Path | None = None) -> Schedule:
    """The schedules of `daily-predictions` and `train-model` in prefect.yaml (`path`)."""
    path = path or PREFECT_YAML
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"cannot read the deployments' schedules from {path} ({exc}); a replay runs "
            "train-model on the schedule prefect.yaml declares: run it from the project's clone"
        ) from exc
    found = {d.get("name"): d for d in spec.get("deployments") or []}
    return Schedule(daily=_cron(found, DAILY, path), train=_cron(found, TRAIN, path))


def _cron(found: dict, name: str, path: Path) -> Cron:
    schedules = [s for s in (found.get(name) or {}).get("schedules") or [] if s.get("cron")]
    active = [s for s in schedules if s.get("active", True)]
    if len(active) != 1:
        raise ConfigError(
            f"{path}: deployment {name!r} has {len(active)} active cron schedule(s); a replay "
            "needs exactly one to know when it runs"
        )
    s = active[0]
    cron, tz = str(s["cron"]), str(s.get("timezone") or "UTC")
    fields = cron.split()
    if s.get("day_or") is False and len(fields) == 5 and "*" not in (fields[2], fields[4]):
        raise ConfigError(
            f"{path}: deployment {name!r}: day_or: false with both a day of month and a day of "
            "week is not replayed (cron's usual 'or' is); set day_or: true or drop one"
        )
    try:
        CronSim(cron, datetime(2000, 1, 1, tzinfo=ZoneInfo(tz)))
    except (CronSimError, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: deployment {name!r}: cron {cron!r} ({tz}): {exc}") from exc
    return Cron(name, cron, tz)
