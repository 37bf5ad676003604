"""The API load section of docs/benchmarks.md (bench/api_load.py's results)."""

from __future__ import annotations

from typing import Any

PHASES = (
    ("alone", "alone, open loop"),
    ("during_writes", "while the daily run's writes publish new days, open loop"),
    ("closed_loop", "closed loop: every client as fast as it can"),
)


def api_section(d: dict[str, Any] | None) -> list[str]:
    """Latency, throughput, errors and torn reads of one day's predictions, with the load."""
    title = "## 4. The predictions API under load (issue 29)"
    if d is None:
        return [title, "", "Not run yet.", ""]
    s, ans = d["setup"], d["answer"]
    lines = [
        title,
        "",
        f"Command: `{d['command']}` (finished {d['finished_at']}). Goal: p99 <= 25 ms at 200 "
        "requests/s for one day's predictions; 0 errors and 0 torn reads during a daily run.",
        "",
        f"`GET {d['route']}`: {ans['rows']} rows of {ans['as_of']} ({ans['bytes']:,} bytes of "
        f"JSON), from the full real history ({s['price_rows']:,} price rows since "
        f"{s['first_session']}) ingested into the benchmark's own DuckDB; {s['days']} days "
        "scored by the naive one-day-reversal fallback (no champion trained: the API serves a "
        "day's rows whatever model made them) and published. `python -m nepse.api` in its own "
        f"process; {d['clients']} client threads with keep-alive connections in another; every "
        "answer checked whole (rows of the day, model and flow run it names, as many as that "
        "publication holds). The writes: another process runs the daily run's writing steps "
        "(score: the day's features, predictions into DuckDB and Parquet; evaluate; publish) "
        f"for {len(s['to_write'])} new sessions one after another.",
        "",
        "| phase | requests | throughput rps | p50 ms | p90 ms | p99 ms | max ms | late sends "
        "| errors | torn reads | server CPU s | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, name in PHASES:
        p = d[key]
        lines.append(
            f"| {name} | {p['requests']:,} | {p['throughput_rps']} | {p['p50_ms']} | "
            f"{p['p90_ms']} | {p['p99_ms']} | {p['max_ms']} | {p['late_sends']} | {p['errors']} "
            f"| {p['torn_reads']} | {p['server_cpu_s']} | {p['load1_before']}→{p['load1_after']} |"
        )
    w = d["during_writes"]
    lines += [
        "",
        f"During the writes the pollers saw {len(w['answers_by_day'])} days in turn "
        f"({', '.join(f'{k}: {v}' for k, v in w['answers_by_day'].items())} answers); the "
        f"writer took {w['writer_s']} s and exited {w['writer_exit']}. Late sends are requests "
        "the client sent more than 5 ms after their slot (the client, not the server, fell "
        f"behind). Versions: {', '.join(f'{k} {v}' for k, v in d['versions'].items())}; "
        f"{d['cores']} cores, load {d['load_at_start']} at start, {d['load_at_end']} at end.",
        "",
    ]
    if max(d["load_at_start"][0], d["load_at_end"][0]) > 2.5:
        lines += [
            "**Measured on a loaded machine** (other jobs beside the benchmark; see the load "
            "column): the latencies, above all p99 during the writes, are the machine's as much "
            "as the API's. Re-measure on a quiet machine before judging the goal.",
            "",
        ]
    return lines
