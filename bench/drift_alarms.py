"""Calibrated drift alarms on the real NEPSE data (issue 12 item 4).

Ingests the ShareSansar folder and CompanyList.csv into a temporary DuckDB, builds the feature
panel once, then, as a yearly retrained model would: for each year Y of 2019..2026 the drift
baseline is built from the sessions before Y (reference = the last `--reference` sessions, alarm
lines = the `--quantile` of every `--window`-session window of the `--calibration` sessions before
it) and every window ending on a session of Y is judged. Prints the alarm rate over normal
sessions (goal <= 5 %) with the number of separate alarm episodes, and the detection delay
(sessions from the change to the first alarm) for the known changes. Prediction drift needs a
model per year and is not part of this benchmark (it is tested on the sample market).

Run: `.venv/bin/python bench/drift_alarms.py [--window 5] [--json bench/results/drift_alarms.json]`
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from itertools import pairwise
from pathlib import Path

from common import COMPANY_LIST, REPO, SHARESANSAR, load1

sys.path.insert(0, str(REPO))

import polars as pl

from nepse.features import FEATURE_SPEC
from nepse.market.rules import market_rules
from nepse.monitoring.baseline import FEATURES, MARKET, WORST, build_baseline, check

# Known changes: (name, first affected day, last affected day) -- sessions in [first, last +
# window) are not "normal" (the window still holds changed days after the change ends).
EVENTS = {
    "2020 lockdown reopening": None,  # found in the data: the first session after the longest gap
    "calculated close (2025-03-20..2025-09-21)": (date(2025, 3, 20), date(2025, 9, 21)),
    "Monday-Friday trading (2026)": None,  # the dates of these two: nepse/market/rules.toml
    "+-15 % price limit (2026-04-20)": None,
}
STATS = (FEATURES, WORST, MARKET)
MAX_DELAY = 20


def cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def ingest(work: Path):
    from nepse.ingest.service import ingest_path
    from nepse.settings import load_settings

    s = load_settings(data_dir=work)
    for path in (COMPANY_LIST, SHARESANSAR):
        ingest_path(s, path, today=date.today())
    return s


def panel_of(s) -> pl.DataFrame:
    from nepse.features.panel import build_panel
    from nepse.store import open_store

    with open_store(s.database, read_only=True) as st:
        return build_panel(st, s, label=False).frame


def episodes(days: list[date], alarmed: list[bool]) -> int:
    """Separate runs of consecutive alarmed sessions."""
    return sum(1 for i, a in enumerate(alarmed) if a and (i == 0 or not alarmed[i - 1]))


def daily_step(base, frame: pl.DataFrame, days: list[date], window: int) -> dict:
    """Wall and CPU of the daily drift step's parts on the last session (item 10)."""
    from nepse.monitoring.files import write_text_atomic
    from nepse.monitoring.page import day_snapshot, page_html
    from nepse.monitoring.workspace import open_workspace, put_day_run

    cur = frame.filter(pl.col("date").is_between(days[-window], days[-1]))
    out = {}
    t, c = time.perf_counter(), cpu()
    summary = check(base, cur)
    out["verdict"] = (time.perf_counter() - t, cpu() - c)
    t, c = time.perf_counter(), cpu()
    import evidently  # noqa: F401

    out["import evidently"] = (time.perf_counter() - t, cpu() - c)
    with tempfile.TemporaryDirectory() as tmp:
        t, c = time.perf_counter(), cpu()
        snap = day_snapshot(base, cur, summary, day=days[-1], model_version="bench", columns=8)
        write_text_atomic(Path(tmp) / "drift.html", page_html(snap))
        out["Evidently page (8 columns)"] = (time.perf_counter() - t, cpu() - c)
        t, c = time.perf_counter(), cpu()
        ws = open_workspace(Path(tmp))
        put_day_run(ws, Path(tmp), snap, day=days[-1], model_version="bench")
        out["workspace add"] = (time.perf_counter() - t, cpu() - c)
    return {k: {"wall_s": round(w, 2), "cpu_s": round(c, 2)} for k, (w, c) in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--window", type=int, default=5)
    ap.add_argument("--reference", type=int, default=120)
    ap.add_argument("--calibration", type=int, default=250)
    ap.add_argument("--quantile", type=float, default=0.995)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dump", type=Path, default=None, help="per-session values (parquet)")
    args = ap.parse_args()
    timings = {}
    t0, c0, l0 = time.perf_counter(), cpu(), load1()
    with tempfile.TemporaryDirectory(prefix="nepse-drift-bench-") as tmp:
        s = ingest(Path(tmp))
        t1, c1 = time.perf_counter(), cpu()
        timings["ingest"] = (t1 - t0, c1 - c0)
        panel = panel_of(s)
    t2, c2 = time.perf_counter(), cpu()
    timings["panel"] = (t2 - t1, c2 - c1)
    days = sorted(panel["date"].unique().to_list())
    print(f"panel {panel.height:,} rows, {len(days)} sessions {days[0]}..{days[-1]}")

    rows = []  # (day, {stat: alarm})
    build_s = check_s = 0.0
    for year in range(2019, days[-1].year + 1):
        first = next((i for i, d in enumerate(days) if d.year == year), None)
        if first is None:
            continue
        lo = max(0, first - args.reference - args.calibration - args.window)
        train = panel.filter(pl.col("date").is_between(days[lo], days[first - 1]))
        tb = time.perf_counter()
        base = build_baseline(
            train,
            features=list(FEATURE_SPEC.names),
            categorical=list(FEATURE_SPEC.categorical),
            window=args.window,
            reference_days=args.reference,
            calibration_days=args.calibration,
            quantile=args.quantile,
        )
        tc = time.perf_counter()
        build_s += tc - tb
        year_days = [i for i, d in enumerate(days) if d.year == year]
        frame = panel.filter(
            pl.col("date").is_between(days[year_days[0] - args.window + 1], days[year_days[-1]])
        )
        for i in year_days:
            cur = frame.filter(pl.col("date").is_between(days[i - args.window + 1], days[i]))
            v = check(base, cur)
            rows.append((days[i], {a.name: a.alarm for a in v.alarms}, v))
        check_s += time.perf_counter() - tc
        lines = {k: round(c.threshold, 3) for k, c in base.calibrations.items()}
        print(f"{year}: reference {base.reference_start}..{base.reference_end}, lines {lines}")
    t3, c3 = time.perf_counter(), cpu()
    timings["baselines+checks"] = (t3 - t2, c3 - c2)

    # The known changes, located in the data where they are not given as dates.
    in_2020 = [d for d in days if d.year == 2020]
    gaps = [(b - a).days for a, b in pairwise(in_2020)]
    g = max(range(len(gaps)), key=gaps.__getitem__)
    closed_from, reopened = in_2020[g], in_2020[g + 1]
    events = dict(EVENTS)
    # After the reopening NEPSE was another market for the rest of 2020 (online trading, record
    # turnover, the 2020-21 rally): those sessions are counted apart, not as normal ones.
    events["2020 lockdown reopening"] = (reopened, date(2020, 12, 31))
    rules = market_rules()
    week = [d for d in rules.changes("trading_week") if d.year == 2026]
    limit = rules.changes("price_limit")[-1]
    for name, start in (("Monday-Friday trading (2026)", week[0]), ("+-15 % price limit", limit)):
        key = next(k for k in events if k.startswith(name))
        if days[-1] >= start:
            events[key] = (start, None)
        else:
            events.pop(key)

    result: dict = {}
    abnormal = set()
    for first_day, last_day in (e for e in events.values() if e is not None):
        i0 = next(i for i, d in enumerate(days) if d >= first_day)
        i1 = (
            len(days) - 1
            if last_day is None
            else max(i for i, d in enumerate(days) if d <= last_day)
        )
        abnormal.update(days[i0 : min(len(days), i1 + args.window)])
    normal = [r for r in rows if r[0] not in abnormal]
    after = [r for r in rows if reopened <= r[0] <= date(2020, 12, 31)]
    result["after_reopening_2020"] = {
        name: sum(r[1].get(name, False) for r in after) / max(1, len(after)) for name in STATS
    }
    if args.dump:
        pl.DataFrame(
            [
                {
                    "date": d,
                    "normal": d not in abnormal,
                    **{f"{a.name}": a.value for a in v.alarms},
                    **{f"{a.name} line": a.threshold for a in v.alarms},
                    **(
                        {"features beyond their line": v.n_drifted}
                        if hasattr(v, "n_drifted")
                        else {}
                    ),
                }
                for d, _, v in rows
            ]
        ).write_parquet(args.dump)
    n = len(normal)
    result |= {
        "window": args.window,
        "reference": args.reference,
        "calibration": args.calibration,
        "quantile": args.quantile,
        "normal_sessions": n,
        "sessions": len(rows),
        "stats": {},
    }
    shares = ", ".join(f"{k} {100 * v:.0f} %" for k, v in result["after_reopening_2020"].items())
    print(f"\nsessions alarmed from the reopening to the end of 2020 ({len(after)}): {shares}")
    print(f"alarm rate over {n} normal sessions 2019-{days[-1].year} (goal <= 5 %):")
    for name in (*STATS, "any"):
        flags = [any(r[1].values()) if name == "any" else r[1].get(name, False) for r in normal]
        rate = sum(flags) / n
        eps = episodes([r[0] for r in normal], flags)
        result["stats"][name] = {"rate": rate, "alarms": sum(flags), "episodes": eps}
        print(f"  {name:16s} {100 * rate:5.1f} %  ({sum(flags)} sessions, {eps} episodes)")

    print(
        f"\nclosure: last session before the lockdown {closed_from}, next {reopened} "
        f"({(reopened - closed_from).days} days); the drift alarm cannot see a closed market, "
        "the stale-data check (nepse.monitoring.staleness) alerts on the first missed session"
    )
    result["closure"] = {"last_before": closed_from.isoformat(), "reopened": reopened.isoformat()}
    print(f"detection delay (sessions from the change to the first alarm, max {MAX_DELAY}):")
    by_day = {r[0]: r[1] for r in rows}
    result["delays"] = {}
    for ev, (first_day, _) in events.items():
        i0 = next(i for i, d in enumerate(days) if d >= first_day)
        delays = {}
        for name in (*STATS, "any"):
            delay = None
            for k in range(MAX_DELAY):
                if i0 + k >= len(days):
                    break
                flags = by_day.get(days[i0 + k], {})
                if any(flags.values()) if name == "any" else flags.get(name):
                    delay = k
                    break
            delays[name] = delay
        result["delays"][ev] = {"first_day": days[i0].isoformat(), **delays}
        text = ", ".join(f"{k}: {'-' if v is None else v}" for k, v in delays.items())
        print(f"  {ev} (from {days[i0]}): {text}")
        last_day = events[ev][1]
        if last_day is not None:  # how much of the changed period the alarm stayed on
            inside = [r for r in rows if first_day <= r[0] <= last_day]
            share = {
                name: sum(
                    any(r[1].values()) if name == "any" else r[1].get(name, False) for r in inside
                )
                / max(1, len(inside))
                for name in (*STATS, "any")
            }
            result["delays"][ev]["alarmed_share_inside"] = share
            result["delays"][ev]["sessions_inside"] = len(inside)
            text = ", ".join(f"{k} {100 * v:.0f} %" for k, v in share.items())
            print(f"    alarmed inside the period ({len(inside)} sessions): {text}")
    result["daily_step"] = daily_step(base, frame, days, args.window)
    print(f"daily drift step on the last session: {result['daily_step']}")
    wall, cpu_s = time.perf_counter() - t0, cpu() - c0
    result["timings"] = {
        k: {"wall_s": round(w, 1), "cpu_s": round(c, 1)} for k, (w, c) in timings.items()
    }
    result["timings"]["build_baselines_s"] = round(build_s, 1)
    result["timings"]["checks_s"] = round(check_s, 1)
    result["timings"]["check_per_session_s"] = round(check_s / max(1, len(rows)), 3)
    result["total"] = {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu_s, 1),
        "load_before": l0,
        "load_after": load1(),
    }
    print(f"\ntimings {result['timings']}\ntotal {result['total']}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
