"""Issue 7a: the Polars features (nepse.features.build_features) against a pandas reference.

Input: the generated market (nepse.devdata.sample.iter_panel, 20 years; 120 / 1,200 / 6,000 symbols
give ~0.5M / 5M / 25M rows), adjusted once with nepse.features.adjust.adjust_prices and saved as
Parquet (not timed). Each engine then runs in its own process under `/usr/bin/time -v`
(peak memory = that process's maximum RSS, input included), in `--repeats` rounds (default 2)
in which the engines take turns, and each engine's fastest run is kept (all runs are in `runs`):

- `polars`: build_features on the whole panel, collected in memory.
- `polars-chunked`: for panels that do not fit in memory as 91 float columns (25M rows x 91 x
  8 bytes is ~18 GB): the per-symbol steps of build_features on chunks of symbols, each
  chunk's features written as Float32 Arrow IPC, then the cross-sectional features (market
  return, ranks; they need every symbol of a date) from the Float64 columns they read, kept in
  memory, in a second pass. The check below proves it equals the one-shot build cast to
  Float32, bit for bit.
- `pandas`: tests/unit/features/pandas_reference.py (groupby-rolling, as the original notebook
  pipeline did).

Pandas above `--pandas-max-rows` is not run; its time is extrapolated per row from the largest
measured size and labelled so. The check compares every feature the pandas reference implements
(max abs difference, null-pattern mismatches) on the smallest size, and polars-chunked against
polars on the same rows.

Run: `.venv/bin/python bench/features_vs_pandas.py [--symbols 120 1200 6000] [--repeats 2]
[--pandas-max-rows N]`
Worker modes (used by the driver): `gen SYMBOLS OUT`, `polars IN`, `polars-chunked IN OUT`,
`pandas IN`, `check IN`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nepse  # noqa: F401  (first, as the product does: its allocator setting precedes polars)

# isort: split
import numpy as np
import polars as pl
from common import PYTHON, chunked_features, measure, run, save

from tests.unit.features.chunked import read_chunked

YEARS = 20.0
SEED = 7
CHUNK_SYMBOLS = 200
"""Symbols per generated file = per chunk of the chunked build. A chunk's Float64 columns are
its peak memory, and on this VM every first touch of a page is a fault (~1.5 us): 200 symbols
against 400 took 25 M rows 28.4-32.4 -> 27.1-27.4 s, system CPU 15-23 -> 10-11 s, peak 4.2-4.6
-> 3.3 GB; 5 M rows 5.6-6.1 -> 5.2-5.3 s (faults 650 K -> 420 K). 100 was no better at 5 M."""


def gen(symbols: int, out: Path) -> dict:
    """Generate the panel chunk by chunk, adjust it, write one Parquet file sorted by symbol."""
    from nepse.devdata.sample import iter_panel
    from nepse.features.adjust import adjust_prices

    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for k, chunk in enumerate(
        iter_panel(symbols=symbols, years=YEARS, seed=SEED, chunk_symbols=CHUNK_SYMBOLS)
    ):
        adj = adjust_prices(chunk.lazy(), None).collect()
        path = out / f"part-{k:04d}.parquet"
        adj.write_parquet(path)
        parts.append(adj.height)
    return {"rows": sum(parts), "symbols": symbols, "files": len(parts)}


def _spec():
    """Every feature build_features can compute."""
    from nepse.features import FULL_SPEC

    return FULL_SPEC


def polars_one_shot(src: Path) -> dict:
    """build_features on the whole panel in memory."""
    from nepse.features import build_features

    adj = pl.read_parquet(src / "*.parquet")
    with measure("polars build_features (one shot)") as m:
        feats = build_features(adj.lazy(), spec=_spec()).collect(engine="in-memory")
    return {**m.as_dict(), "rows": feats.height, "features": len(feats.columns) - 4}


def polars_chunked(src: Path, out: Path) -> dict:
    """Per-symbol features per file of symbols to Parquet, then the cross-section pass."""
    files = sorted(src.glob("*.parquet"))
    chunks = (pl.scan_parquet(f) for f in files)
    row = chunked_features(chunks, out, names=_spec().names)
    return {**row, "chunk_symbols": CHUNK_SYMBOLS}


def pandas_run(src: Path, style: str = "rolling") -> dict:
    """The pandas reference on the whole panel."""
    from tests.unit.features.pandas_reference import pandas_features

    adj = pl.read_parquet(src / "*.parquet").to_pandas()
    with measure(f"pandas reference ({style})") as m:
        feats = pandas_features(adj, style=style)
    return {**m.as_dict(), "rows": len(feats), "features": len(feats.columns) - 2}


def _diff(a: pl.DataFrame, b: pl.DataFrame, names: list[str]) -> list[dict]:
    """Per feature: max abs difference where both finite, rows where only one is missing."""
    rows = []
    for n in names:
        x = a[n].cast(pl.Float64).fill_null(np.nan).to_numpy()
        y = b[n].cast(pl.Float64).fill_null(np.nan).to_numpy()
        fx, fy = np.isfinite(x), np.isfinite(y)
        both = fx & fy
        d = np.abs(x[both] - y[both])
        scale = np.maximum(1.0, np.abs(y[both]))
        rows.append(
            {
                "feature": n,
                "max_abs_diff": float(d.max()) if d.size else None,
                "max_rel_diff": float((d / scale).max()) if d.size else None,
                "compared": int(both.sum()),
                "null_mismatch": int((fx != fy).sum()),
            }
        )
    return rows


def check(src: Path) -> dict:
    """pandas vs Polars on every pandas-implemented feature; chunked vs one-shot Polars."""
    from nepse.features import build_features
    from tests.unit.features.pandas_reference import pandas_features

    adj = pl.read_parquet(src / "*.parquet")
    ref = build_features(adj.lazy(), spec=_spec()).collect(engine="in-memory")
    pdf = pl.from_pandas(pandas_features(adj.to_pandas())).sort("symbol", "date")
    names = [c for c in pdf.columns if c.startswith("f_")]
    vs_pandas = _diff(pdf, ref, names)
    alt = pl.from_pandas(pandas_features(adj.to_pandas(), style="transform"))
    transform_vs_rolling = max(
        (r["max_abs_diff"] or 0.0) for r in _diff(alt.sort("symbol", "date"), pdf, names)
    )
    with tempfile.TemporaryDirectory() as tmp:
        polars_chunked(src, Path(tmp))
        chunked = read_chunked(Path(tmp)).sort("symbol", "date")
    spec = [c for c in ref.columns if c.startswith("f_")]
    # The work files store Float32: they must equal the one-shot build cast to Float32 exactly.
    ref32 = ref.with_columns(pl.col(c).cast(pl.Float32) for c in spec if ref[c].dtype == pl.Float64)
    vs_chunked = _diff(chunked.select(ref.columns), ref32, spec)
    vs_float64 = _diff(chunked.select(ref.columns), ref, spec)
    worst = max((r["max_abs_diff"] or 0.0) for r in vs_pandas)
    print(f"  pandas vs polars: {len(names)} features, worst max abs diff {worst:.3g}")
    return {
        "rows": ref.height,
        "pandas_features": len(names),
        "polars_features": len(spec),
        "vs_pandas": vs_pandas,
        "transform_vs_rolling_max_abs_diff": transform_vs_rolling,
        "chunked_vs_one_shot": {
            "compared_to": "the one-shot build cast to Float32 (the work files' type)",
            "max_abs_diff": max((r["max_abs_diff"] or 0.0) for r in vs_chunked),
            "null_mismatch": sum(r["null_mismatch"] for r in vs_chunked),
            "features": len(spec),
            "max_rel_diff_vs_float64": max((r["max_rel_diff"] or 0.0) for r in vs_float64),
        },
    }


def _worker(mode: str, args: list[str]) -> None:
    t0 = time.perf_counter()
    if mode == "gen":
        out = gen(int(args[0]), Path(args[1]))
    elif mode == "polars":
        out = polars_one_shot(Path(args[0]))
    elif mode == "polars-chunked":
        out = polars_chunked(Path(args[0]), Path(args[1]))
    elif mode == "pandas":
        out = pandas_run(Path(args[0]), args[1] if len(args) > 1 else "rolling")
    elif mode == "check":
        out = check(Path(args[0]))
    else:
        raise SystemExit(f"unknown mode {mode}")
    out["process_s"] = round(time.perf_counter() - t0, 3)
    print("JSON:" + json.dumps(out))


def _call(mode: str, *args: str, label: str) -> dict:
    row = run([PYTHON, __file__, mode, *args], label=label, timeout=6 * 3600)
    line = next(x for x in row.pop("stdout").splitlines() if x.startswith("JSON:"))
    row.pop("stderr")
    return {"process": row, "result": json.loads(line[5:])}


def _best_of_rounds(repeats: int, engines: dict[str, tuple[str, ...]], label: str) -> dict:
    """Each engine (key -> worker mode and arguments) in `repeats` rounds of fresh processes,
    the engines taking turns within a round; per engine the fastest run (by the timed part's
    wall time), with every run's wall and CPU seconds in `runs`. Taking turns puts every
    engine's runs in the same minutes: this VM's speed drifts (pandas at 5 M rows took 79 s
    and 61 s in runs 19 minutes apart), and one engine measured after the other compared two
    machines."""
    calls: dict[str, list[dict]] = {key: [] for key in engines}
    for i in range(repeats):
        for key, (mode, *args) in engines.items():
            calls[key].append(_call(mode, *args, label=f"{key} {label} (round {i + 1}/{repeats})"))
    out = {}
    for key, runs in calls.items():
        best = min(runs, key=lambda c: c["result"]["wall_s"])
        best["runs"] = [{k: c["result"][k] for k in ("wall_s", "cpu_s")} for c in runs]
        out[key] = best
    return out


def main() -> None:
    """Generate each size, run each engine in its own process, check, save results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, nargs="+", default=[120, 1200, 6000])
    parser.add_argument("--pandas-max-rows", type=int, default=6_000_000)
    parser.add_argument("--one-shot-max-rows", type=int, default=6_000_000)
    parser.add_argument("--transform-max-rows", type=int, default=6_000_000)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "nepse-bench-features"
    )
    parser.add_argument("--no-check", action="store_true")
    parser.add_argument(
        "--repeats", type=int, default=2, help="fresh processes per engine and size; best kept"
    )
    args = parser.parse_args()

    sizes = []
    check_result = None
    n = args.repeats
    for symbols in args.symbols:
        src = args.work / f"adj-{symbols}"
        shutil.rmtree(src, ignore_errors=True)
        print(f"{symbols} symbols x {YEARS:g} years")
        g = _call("gen", str(symbols), str(src), label=f"generate + adjust {symbols} symbols")
        rows = g["result"]["rows"]
        entry: dict = {"symbols": symbols, "rows": rows, "generate": g}
        out = args.work / f"feat-{symbols}"
        shutil.rmtree(out, ignore_errors=True)
        engines: dict[str, tuple[str, ...]] = {}
        if rows <= args.one_shot_max_rows:
            engines["polars"] = ("polars", str(src))
        engines["polars_chunked"] = ("polars-chunked", str(src), str(out))
        if rows <= args.pandas_max_rows:
            engines["pandas"] = ("pandas", str(src))
        if rows <= args.transform_max_rows:
            engines["pandas_transform"] = ("pandas", str(src), "transform")
        entry.update(_best_of_rounds(n, engines, label=f"{rows:,} rows"))
        shutil.rmtree(out, ignore_errors=True)
        if check_result is None and not args.no_check:
            check_result = _call("check", str(src), label=f"check {rows:,} rows")["result"]
        sizes.append(entry)
        shutil.rmtree(src, ignore_errors=True)

    for key in ("pandas", "pandas_transform"):
        measured = [e for e in sizes if key in e]
        if not measured:
            continue
        base = max(measured, key=lambda e: e["rows"])
        per_row = base[key]["result"]["wall_s"] / base["rows"]
        cpu_per_row = base[key]["result"]["cpu_s"] / base["rows"]
        for e in sizes:
            if key not in e:
                e[f"{key}_extrapolated"] = {
                    "wall_s": round(per_row * e["rows"], 1),
                    "cpu_s": round(cpu_per_row * e["rows"], 1),
                    "from_rows": base["rows"],
                    "note": "extrapolated per row from the largest measured run",
                }
    save(
        "features_vs_pandas",
        {
            "years": YEARS,
            "seed": SEED,
            "spec": {"version": _spec().version, "n_features": len(_spec().names)},
            "repeats": n,
            "sizes": sizes,
            "check": check_result,
            "targets": {"speedup_25m": 20.0, "polars_25m_s": 60.0, "peak_memory_gb": 8.0},
        },
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("gen", "polars", "polars-chunked", "pandas", "check"):
        _worker(sys.argv[1], sys.argv[2:])
    else:
        main()
