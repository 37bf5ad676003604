"""A replayed season's record and its figures: what the service would have written and cost.

`Season` gathers, for the replayed days, the paper ledger and its trades, the realised
performance, the drift verdicts, the registry and the replay's own records (each unit's runs
with their step times, its trainings and the alerts its runs raised, the folder sizes after
it). `figures` condenses them to the season's numbers; `days_table` gives one row per day.
The HTML page is nepse/replay/page.py.

Definitions (written on the page too):
- NAV net: the paper portfolio's value after every cost and tax; gross: with the costs added
  back. Returns are over the replayed days, from the capital the ledger starts with.
- Universe: the equal-weighted tradeable universe, close to close; market: the
  turnover-weighted market proxy (nepse.portfolio.benchmark), compounded over the same days.
- Realised Rank IC: the day's predictions against their label once it is known (6 sessions
  later by default), as the daily run evaluates them; in-sample days are left out.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

MB = 1024 * 1024


@dataclass(frozen=True)
class Season:
    """Everything the season report shows (frames restricted to the replayed days)."""

    start: date
    end: date
    source: str
    ledger: pl.DataFrame
    trades: pl.DataFrame
    performance: pl.DataFrame
    drift: pl.DataFrame
    models: tuple[dict[str, Any], ...]
    records: tuple[dict[str, Any], ...]
    """The replay's unit records (nepse.app.replay.complete), history first."""

    @property
    def day_records(self) -> list[dict[str, Any]]:
        """The records of replayed days (the history unit left out), in order."""
        return [r for r in self.records if r.get("day")]


def _growth(frame: pl.DataFrame, column: str) -> float | None:
    if frame.height == 0:
        return None
    return float((frame.get_column(column).fill_null(0.0) + 1).product() - 1)


def trainings(season: Season) -> list[dict[str, Any]]:
    """Every training the replay ran, in order, with its unit's day."""
    return [
        {"day": r.get("day") or r.get("unit"), **t} for r in season.records for t in r["trainings"]
    ]


def alarms(season: Season) -> list[dict[str, Any]]:
    """Every alert the replayed runs raised, with its day and what followed it: whether the
    next day alarmed again, the next training and its decision, the realised Rank IC of the
    next 20 evaluated days and the NAV over the next 20 sessions."""
    days = [r["day"] for r in season.day_records]
    alerted = {r["day"] for r in season.day_records if r["alerts"]}
    nav = dict(zip(*(season.ledger.get_column(c).to_list() for c in ("date", "nav")), strict=True))
    perf = season.performance.filter(~pl.col("in_sample").fill_null(False))
    out = []
    for r in season.day_records:
        i = days.index(r["day"])
        later = days[i + 1 : i + 21]
        nxt = next((t for t in trainings(season) if t["day"] > r["day"]), None)
        ric = perf.filter(pl.col("date").cast(pl.String).is_in(later)).get_column("rank_ic")
        navs = [nav.get(date.fromisoformat(d)) for d in (r["day"], *later[-1:])]
        for alert in r["alerts"]:
            out.append(
                {
                    **alert,
                    "day": r["day"],
                    "again_next_day": bool(later) and later[0] in alerted,
                    "next_training": (
                        f"{nxt['day']}: {nxt.get('status') or nxt.get('state')}" if nxt else ""
                    ),
                    "rank_ic_next_20": float(ric.mean()) if ric.len() else None,
                    "nav_next_20": (
                        navs[1] / navs[0] - 1 if len(later) and None not in navs else None
                    ),
                }
            )
    return out


def orders(season: Season) -> dict[str, int]:
    """Orders sent to the replayed sessions: filled in full, in part, not at all, and why."""
    t = season.trades
    if t.height == 0:
        return {"sent": 0, "filled": 0, "partly": 0, "unfilled": 0}
    full = t.filter(pl.col("shares") >= pl.col("ordered") - 1e-9).height
    none = t.filter(pl.col("shares") <= 0).height
    out = {"sent": t.height, "filled": full, "partly": t.height - full - none, "unfilled": none}
    reasons = t.filter(pl.col("reason").fill_null("") != "").group_by("reason").len()
    for reason, n in reasons.sort("len", descending=True).iter_rows():
        out[f"why: {reason}"] = n
    return out


def figures(season: Season) -> dict[str, Any]:
    """The season in numbers (the docs and the artifacts quote these)."""
    led = season.ledger.sort("date")
    first_nav = float(led["capital"][0]) if led.height else None
    runs = [
        run for r in season.day_records for run in r["runs"] if run["flow"] == "daily-predictions"
    ]
    unit_s = [r["seconds"] for r in season.day_records]
    sizes = [r["sizes"] for r in season.records]
    span = (season.end - season.start).days + 1
    per_day = {
        k: (sizes[-1][k] - sizes[0][k]) / max(len(season.day_records), 1)
        for k in ("database", "reports", "data")
    }
    sessions_a_year = len(season.day_records) / span * 365 if span else 0
    trains = trainings(season)
    perf = season.performance.filter(~pl.col("in_sample").fill_null(False))
    return {
        "days": len(season.day_records),
        "first_day": season.day_records[0]["day"] if season.day_records else None,
        "last_day": season.day_records[-1]["day"] if season.day_records else None,
        "nav_start": first_nav,
        "nav_end": float(led["nav"][-1]) if led.height else None,
        "return_net": float(led["nav"][-1]) / first_nav - 1 if first_nav else None,
        "return_gross": float(led["nav_gross"][-1]) / first_nav - 1 if first_nav else None,
        "return_universe": _growth(led.slice(1), "bench_ew"),
        "return_market": _growth(led.slice(1), "bench_tw"),
        "costs": float(led["costs"].sum()) if led.height else 0.0,
        "orders": orders(season),
        "rank_ic_mean": float(perf["rank_ic"].mean()) if perf.height else None,
        "rank_ic_days": perf.height,
        "drift_alarm_days": int(season.drift["dataset_drift"].sum()) if season.drift.height else 0,
        "alerts": len(alarms(season)),
        "daily_runs": len(runs),
        "daily_runs_not_completed": sum(1 for run in runs if run["state"] != "COMPLETED"),
        "trainings": len(trains),
        "promotions": sum(1 for t in trains if t.get("promoted")),
        "day_seconds_median": statistics.median(unit_s) if unit_s else None,
        "day_seconds_max": max(unit_s) if unit_s else None,
        "daily_run_seconds_median": statistics.median(r["seconds"] for r in runs) if runs else None,
        "training_seconds": [t.get("seconds") for t in trains],
        "replay_seconds": sum(r["seconds"] for r in season.records),
        "database_mb": sizes[-1]["database"] / MB if sizes else None,
        "reports_mb": sizes[-1]["reports"] / MB if sizes else None,
        "data_mb": sizes[-1]["data"] / MB if sizes else None,
        "growth_mb_per_day": {k: v / MB for k, v in per_day.items()},
        "growth_mb_per_year": {k: v / MB * sessions_a_year for k, v in per_day.items()},
        "sessions_a_year": sessions_a_year,
    }


def days_table(season: Season) -> list[dict[str, Any]]:
    """One row per replayed day: NAV, orders, Rank IC, alarms, trainings, time and sizes."""
    led = {r["date"].isoformat(): r for r in season.ledger.to_dicts()}
    perf = {r["date"].isoformat(): r for r in season.performance.to_dicts()}
    drift = {r["date"].isoformat(): r for r in season.drift.to_dicts()}
    rows = []
    for r in season.day_records:
        day, p = r["day"], led.get(r["day"], {})
        daily = next((x for x in r["runs"] if x["flow"] == "daily-predictions"), {})
        rows.append(
            {
                "day": day,
                "run": daily.get("state", ""),
                "nav": round(p["nav"]) if p else None,
                "ret_net": p.get("ret"),
                "costs": round(p["costs"]) if p else None,
                "filled": f"{p['n_filled']}/{p['n_orders']}" if p else "",
                "rank_ic": (perf.get(day) or {}).get("rank_ic"),
                "drift_alarm": bool((drift.get(day) or {}).get("dataset_drift")),
                "alerts": len(r["alerts"]),
                "trainings": ", ".join(
                    f"{t['trigger']}: {t.get('status') or t.get('state')}" for t in r["trainings"]
                ),
                "seconds": r["seconds"],
                "daily_seconds": daily.get("seconds"),
                "database_mb": round(r["sizes"]["database"] / MB, 1),
                "reports_mb": round(r["sizes"]["reports"] / MB, 1),
            }
        )
    return rows


def drift_statistics(row: dict[str, Any]) -> str:
    """The calibrated statistics a drift row found beyond their alarm lines, in words."""
    try:
        found = json.loads(row.get("alarms") or "[]")
    except ValueError:
        return ""
    return "; ".join(
        f"{a['name']} {a['value']:.4g} (line {a['threshold']:.4g})"
        for a in found
        if a.get("alarm") and a.get("value") is not None and a.get("threshold") is not None
    )
