"""The NumPy kernels (nepse/features/kernels.py, cross_section.py) against Polars' expressions.

On one generated column of adjusted closes (devdata.sample.iter_panel, seed 7, 20 years,
sorted by symbol and date: 0.5 M rows at 120 symbols), each window kernel and the Polars
expressions it replaces are timed in this process, best of `--repeats` after a warm-up, single
calls (no other work running), and compared where the window is full (the rank equals Polars'
to 1 ulp, the rest exactly). The per-date ranks (cross_section.date_ranks) run on seven price
and volume columns of the same panel listed date by date, against Polars' `rank().over(date)`
scaled the same way, compared everywhere. Usage:

    .venv/bin/python bench/kernels.py --symbols 120 --repeats 5
"""

from __future__ import annotations

import argparse
import time

import polars as pl
from common import load1, save  # also puts the repository on sys.path

from nepse.features import cross_section, kernels
from nepse.features.spec import WINDOWS

QS = (0.2, 0.8)


def _best(fn, repeats: int) -> dict:
    fn()
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    i = walls.index(min(walls))
    return {"wall_s": round(walls[i], 4), "cpu_s": round(cpus[i], 4)}


def _panel(symbols: int) -> pl.DataFrame:
    from nepse.devdata.sample import iter_panel
    from nepse.features.adjust import adjust_prices

    parts = [
        adjust_prices(chunk.lazy(), None).collect()
        for chunk in iter_panel(symbols=symbols, years=20.0, seed=7, chunk_symbols=400)
    ]
    return pl.concat(parts).sort("symbol", "date")


RANK_COLUMNS = ("adj_open", "adj_high", "adj_low", "adj_close", "adj_volume", "turnover", "trades")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--symbols", type=int, default=120)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    panel = _panel(args.symbols)
    c = panel["adj_close"]
    by_date = panel.sort("date", maintain_order=True).select(
        "date", *(pl.col(x).cast(pl.Float64) for x in RANK_COLUMNS)
    )
    load_before = load1()

    def polars_quantiles():
        return [c.rolling_quantile(q, "linear", w, min_samples=w) for w in WINDOWS for q in QS]

    def polars_ranks():
        return [c.rolling_rank(w, min_samples=w) / w for w in WINDOWS]

    def polars_max():
        return [c.rolling_max(w, min_samples=w) for w in WINDOWS]

    rows = {
        "quantiles 0.2/0.8, windows 5-60": (
            lambda: kernels.rolling_quantiles(c, WINDOWS, QS),
            polars_quantiles,
        ),
        "rank of the last value, windows 5-60": (lambda: kernels.ts_rank(c, WINDOWS), polars_ranks),
        "maximum, windows 5-60": (
            lambda: kernels.rolling_extreme(c, WINDOWS, "max"),
            polars_max,
        ),
    }
    out = []
    for label, (kernel, native) in rows.items():
        got, want = kernel(), native()
        k = _best(kernel, args.repeats)
        p = _best(native, args.repeats)
        # Compared where the window is full (earlier rows are masked by the caller).
        fields = got.struct.fields
        windows = [int(f.split("w")[-1]) for f in fields]
        diff = max(
            (got.struct.field(f)[w - 1 :] - x[w - 1 :]).abs().max() or 0.0
            for f, x, w in zip(fields, want, windows, strict=True)
        )
        row = {"kernel": label, "numpy": k, "polars": p, "max_abs_diff": diff}
        print(
            f"{label:40s} kernel {k['wall_s']:.3f} s (cpu {k['cpu_s']:.3f})  "
            f"polars {p['wall_s']:.3f} s (cpu {p['cpu_s']:.3f})  max |diff| {diff:.1e}"
        )
        out.append(row)
    ranks = (
        lambda: cross_section.date_ranks([by_date["date"], *(by_date[x] for x in RANK_COLUMNS)]),
        lambda: by_date.select(cross_section.polars_date_rank(x) for x in RANK_COLUMNS),
    )
    got, want = ranks[0]().struct.unnest(), ranks[1]()
    diff = max((got[x] - want[x]).abs().max() or 0.0 for x in RANK_COLUMNS)
    nulls = sum(int((got[x].is_null() != want[x].is_null()).sum()) for x in RANK_COLUMNS)
    k, p = _best(ranks[0], args.repeats), _best(ranks[1], args.repeats)
    label = f"per-date ranks, {len(RANK_COLUMNS)} columns"
    print(
        f"{label:40s} kernel {k['wall_s']:.3f} s (cpu {k['cpu_s']:.3f})  "
        f"polars {p['wall_s']:.3f} s (cpu {p['cpu_s']:.3f})  max |diff| {diff:.1e}, "
        f"null mismatches {nulls}"
    )
    out.append({"kernel": label, "numpy": k, "polars": p, "max_abs_diff": diff, "nulls": nulls})
    save(
        "kernels",
        {
            "rows": len(c),
            "symbols": args.symbols,
            "repeats": args.repeats,
            "results": out,
            "load_before": load_before,
            "load_after": load1(),
        },
    )


if __name__ == "__main__":
    main()
