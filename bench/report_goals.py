"""Sections of docs/benchmarks.md for the goals of issues 12 and 15 (used by bench/report.py):
the goal table, the first run, the 2019-2026 walk-forward and the drift alarms."""

from __future__ import annotations

import json
from typing import Any

from common import RESULTS


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _s(x: float | None, nd: int = 1) -> str:
    return "—" if x is None else f"{x:,.{nd}f}"


def _met(ok: bool | None) -> str:
    return "not measured" if ok is None else ("**met**" if ok else "**missed**")


def _lightgbm_ic(run: dict) -> float | None:
    return next((m["rank_ic"] for m in run.get("summary", []) if m["model"] == "lightgbm"), None)


def pandas_speedups(sizes: list[dict]) -> list[tuple[int, float, bool]]:
    """(rows, faster pandas idiom / best Polars build, pandas extrapolated?) at each size,
    from in-process build times (interpreter start and imports left out)."""
    out = []
    for z in sizes:
        pols = [z[k]["result"]["wall_s"] for k in ("polars", "polars_chunked") if k in z]
        measured = [z[k]["result"]["wall_s"] for k in ("pandas", "pandas_transform") if k in z]
        guessed = [
            z[k]["wall_s"]
            for k in ("pandas_extrapolated", "pandas_transform_extrapolated")
            if k in z
        ]
        if pols and (measured or guessed):
            out.append((z["rows"], min(measured or guessed) / min(pols), not measured))
    return out


def goal_rows(docs: dict[str, dict | None]) -> list[list[str]]:
    """One row per goal: goal, target, measured (wall / CPU, load), verdict."""
    rows = []
    fr = docs.get("first_run")
    if fr:
        s = fr["summary"]
        rows.append(
            [
                "fresh-home `./run demo` succeeds on the first try",
                "10 of 10",
                f"{s['succeeded']} of {s['tries']}",
                _met(s["succeeded"] == s["tries"] >= 10),
            ]
        )
        rows.append(
            [
                "`./run demo` after set-up (fresh PREFECT_HOME and data, server start included)",
                "<= 60 s",
                f"median {_s(s['median_wall_s'])} s wall (max {_s(s['max_wall_s'])}), "
                f"{_s(s['median_cpu_s'])} s CPU",
                _met(s["median_wall_s"] is not None and s["median_wall_s"] <= 60),
            ]
        )
    dr = docs.get("daily_run")
    if dr and "imports" in dr:
        full = next(iter(dr["results"]))
        runs = dr["results"][full]["cli_server"]
        best = min(runs, key=lambda r: r["wall_s"])
        rows.append(
            [
                f"`nepse daily` on the real data, running server ({full} years)",
                "<= 8 s wall",
                f"{_s(best['wall_s'])} s wall / {_s(best['cpu_s'])} s CPU "
                + (
                    f"+ {_s(best['service_cpu_s'])} s in the Evidently service "
                    if best.get("service_cpu_s") is not None
                    else ""
                )
                + f"(load {best['load_before']})",
                _met(best["wall_s"] <= 8),
            ]
        )
        rows.append(
            [
                "its non-Prefect part (steps' own work + pipeline imports)",
                "<= 3 s",
                f"{_s(best.get('non_prefect_s'))} s wall",
                _met(best.get("non_prefect_s", 99) <= 3),
            ]
        )
        drift = best.get("steps", {}).get("check_drift")
        publish = best.get("steps", {}).get("publish_results")
        if drift and publish:
            in_run = drift["wall_s"] + publish["wall_s"]
            rows.append(
                [
                    "daily drift step (issue 12 item 10), in the run's wall time",
                    "<= 2 s of work",
                    f"{_s(in_run, 2)} s: check_drift {_s(drift['wall_s'], 2)} s (the verdict) + "
                    f"publish {_s(publish['wall_s'], 2)} s (mostly the wait for the Evidently "
                    "side process's page, rendered meanwhile on the other core)",
                    _met(in_run <= 2),
                ]
            )
        ratio = dr.get("ratio_15y_over_2y", {}).get("wall_s")
        if ratio:
            rows.append(
                ["daily run, 15 y / 2 y of history", "<= 1.3", f"{ratio:.2f}", _met(ratio <= 1.3)]
            )
    wf = docs.get("walkforward-full")
    if wf:
        run = next(r for r in wf["runs"] if r.get("mode") == "dask2")
        rows.append(
            [
                f"2019-2026 walk-forward, {run['n_seeds']} seeds ({run['n_blocks']} blocks), "
                "2 Dask workers",
                "<= 8 min",
                f"{_s(run['wall_s'] / 60)} min wall / {_s(run['cpu_s'] / 60)} min CPU "
                f"(load {run['load_before']}->{run['load_after']})",
                _met(run["wall_s"] <= 480),
            ]
        )
    fv = docs.get("features_vs_pandas")
    if fv:
        big = max(fv["sizes"], key=lambda z: z["rows"])
        pol = big.get("polars_chunked") or big.get("polars")
        if pol:
            p = pol["process"]
            rows.append(
                [
                    f"features at {big['rows'] / 1e6:.0f} M rows (Polars, chunked)",
                    "<= 60 s, <= 8 GB",
                    f"{_s(p['wall_s'])} s wall / {_s(p['cpu_s'])} s CPU, peak "
                    f"{_s(p.get('peak_rss_mb', 0) / 1024)} GB",
                    _met(p["wall_s"] <= 60 and p.get("peak_rss_mb", 0) <= 8192),
                ]
            )
        ratios = pandas_speedups(fv["sizes"])
        if ratios:
            rows.append(
                [
                    "features: the best Polars build against the faster pandas idiom, wall",
                    ">= 10x at every size",
                    ", ".join(
                        f"{r / 1e6:.1f} M rows {x:.1f}x" + (" (pandas extrapolated)" if ex else "")
                        for r, x, ex in ratios
                    ),
                    _met(all(x >= 10 for _, x, _ in ratios)),
                ]
            )
    dd = docs.get("drift_alarms")
    if dd:
        a = dd["stats"]["any"]
        rows.append(
            [
                "drift alarm rate, normal sessions 2019-2026",
                "<= 5 %",
                f"{100 * a['rate']:.1f} % of {dd['normal_sessions']:,} sessions, "
                f"{a['episodes']} episodes",
                _met(a["rate"] <= 0.05),
            ]
        )
    return rows


def first_run_lines(d: dict | None) -> list[str]:
    """The 10 fresh-home demos, one row each."""
    if d is None:
        return ["## First run (issue 15)", "", "Not run yet.", ""]
    out = [
        "## First run: `./run demo` on a fresh PREFECT_HOME and data directory (issue 15)",
        "",
        f"Command: `{d['command']}` (finished {d['finished_at']}). Each try: a new Prefect home "
        "(database not yet created or migrated) and a new data directory (the demo trains its "
        "first champion); the server the demo starts is stopped after each try. CPU = the "
        "command and what it waited for (the detached server, which the demo "
        "starts and leaves running, not counted).",
        "",
        "| try | rc | wall s | CPU s | demo's own 'done in' s | load |",
        "|---|---|---|---|---|---|",
    ]
    for r in d["runs"]:
        out.append(
            f"| {r['label']} | {r['returncode']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | "
            f"{r.get('demo_done_s')} | {r['load_before']}→{r['load_after']} |"
        )
    return [*out, ""]


def walkforward_lines(
    full: dict | None, serial: dict | None, small: dict | None, remote: dict | None = None
) -> list[str]:
    """The 2019-2026 walk-forward (Dask 2 workers and serial; with `remote`, also on workers
    that cannot read the data) and the small run's levers."""
    out = ["## Walk-forward on the real data, in one process and on Dask (issues 15, 24)", ""]
    rows = []
    for d in (full, serial, remote, small):
        if d is None:
            continue
        for r in d["runs"]:
            rows.append(
                f"| {r['test_start']}..{r['test_end']} | {r['mode']} | {r['n_blocks']} x "
                f"{r['n_seeds']} | {r['wall_s']:.0f} | {r['cpu_s']:.0f} | "
                f"{_s(r.get('rerun_s'), 1)} | {_s(_lightgbm_ic(r), 5)} | "
                f"{r['load_before']}→{r['load_after']} |"
            )
    if not rows:
        return [*out, "Not run yet.", ""]
    out += [
        "`bench/bench_walkforward.py`: each mode in a fresh process running the driver of the "
        "`train-model` flow (`nepse.app.training.walk_forward`); CPU = the process and every "
        "descendant it waited for (Dask nannies and workers). serial = one process, LightGBM "
        "with 2 threads; dask1/dask2 = a local cluster of 1 or 2 worker processes (threads = 2 "
        "cores // workers); remote = a `dask scheduler` and 2 `dask worker` processes as "
        "`nobody`, which cannot read the data folder (the arrays travel to them). rerun = the "
        "same call again over the finished checkpoints.",
        "",
        "| test days | mode | blocks x seeds | wall s | CPU s | rerun s | LightGBM Rank IC "
        "| load |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    if small and small.get("levers"):
        lv = small["levers"]
        once = lv.get("prepare_and_bin_once_s") or lv["prepare_s"] + lv["bin_once_s"]
        out += [
            f"Levers (small run): preparing and binning the panel once costs {once:.2f} s; per "
            "fit, shared bins vs re-binned (wall / CPU s):",
            "",
            "| block | rows | shared bins | re-binned |",
            "|---|---|---|---|",
            *[
                f"| {f['block']} | {f['n_fit']:,} | {f['shared_bins_wall_s']} / "
                f"{f['shared_bins_cpu_s']} | {f['rebinned_wall_s']} / {f['rebinned_cpu_s']} |"
                for f in lv["fits"]
            ],
            "",
        ]
    return out


def drift_lines(d: dict | None) -> list[str]:
    """Calibrated drift alarms on the real data (details in docs/monitoring.md)."""
    out = ["## Drift alarms on the real data (issue 12)", ""]
    if d is None:
        return [*out, "Not run yet.", ""]
    out += [
        "`bench/drift_alarms.py` (details and the reading of these figures: docs/monitoring.md). "
        f"Window {d['window']} sessions, reference {d['reference']}, calibration "
        f"{d['calibration']}, family quantile {d['quantile']}.",
        "",
        "| statistic | alarm rate (normal sessions) | sessions | episodes |",
        "|---|---|---|---|",
        *[
            f"| {k} | {100 * v['rate']:.1f} % | {v['alarms']} | {v['episodes']} |"
            for k, v in d["stats"].items()
        ],
        "",
        "Detection delay (sessions from the change to the first alarm; — = not within 20):",
        "",
    ]
    for ev, v in d["delays"].items():
        out.append(f"- {ev} (from {v['first_day']}): any statistic {v.get('any', '—')}")
    step = d.get("daily_step", {})
    if step:
        out += [
            "",
            "Daily drift step on the last session (wall / CPU s): "
            + "; ".join(f"{k} {v['wall_s']} / {v['cpu_s']}" for k, v in step.items())
            + f" (load {d['total']['load_before']}→{d['total']['load_after']}).",
        ]
    return [*out, ""]
