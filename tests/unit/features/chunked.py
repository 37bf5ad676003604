"""Features of a panel too large for memory: chunk of symbols by chunk, then the cross-section.

The product builds features in memory (nepse.features.build_features); this build runs the same
steps when the panel's feature columns do not fit (25 M rows x 85 Float64 features is ~17 GB).
Only the scale benchmarks use it (bench/scale.py, bench/features_vs_pandas.py time it through
bench/common.chunked_features); test_chunked.py proves it equals the one-shot build. It lives
here because tests never import bench/ (bench may import tests).

Per chunk (a LazyFrame of adjusted prices holding whole symbols): nepse's per_symbol_features
(+ `then(lf)`, e.g. labels), the per-symbol names of `names` and `extra` written to
`out/ts-NNNN.arrow`; the few Float64 columns the cross-sectional features read (they need every
symbol of a date) are kept in memory, split by year, and the cross-section is computed from them
in one pass at the end into `out/cross.arrow`. read_chunked joins the two.

The work files are uncompressed Arrow IPC with the features stored as Float32 (7 significant
digits, what LightGBM's bins and Qlib's feature store keep), each written by a thread while the
next chunk computes. Everything is computed in Float64: the stored values equal the in-memory
build's cast to Float32, bit for bit. Why: a 400-symbol chunk of 85 Float64 features is ~1 GB
that does not compress (Parquet with lz4 took 1.7-3.0 s a chunk, IPC 1.1 s), and at 21-25 M rows
the run was bound by writing ~15 GB (bench/FINDINGS.md, 2026-12-02).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from nepse.features import CARRY, CROSS_FEATURES, KEYS, RANKED
from nepse.features.spec import CARRY_IF_PRESENT
from nepse.features.steps import add_cross_section, per_symbol_features

TS_FILES = "ts-*.arrow"
CROSS_FILE = "cross.arrow"


class ChunkedBuild:
    """`add` each chunk of symbols, then `finish` (the cross-section pass); use it in `with`.

    `chunks` and `rows` count what was added. One chunk's work file is in flight at a time, so
    memory holds at most two chunks besides the cross-section's inputs.
    """

    def __init__(
        self,
        out: Path,
        *,
        names: Iterable[str],
        securities: pl.DataFrame | None = None,
        then: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.out = out
        self.securities = securities
        self.then = then
        self.extra = extra
        self.per_symbol = [n for n in names if n not in CROSS_FEATURES]
        self.needs = list(dict.fromkeys(["f_ret_1", *(f"f_{n}" for n in RANKED)]))
        self.chunks = 0
        self.rows = 0
        # The cross-section's Float64 inputs, by year: a date's cross-section needs only that
        # date's rows, and listing a year's ~1 M rows date by date stays in the CPU's caches,
        # where listing all 21 M (add_cross_section's gathers) was bound by memory latency (35 s,
        # 4.5 s by year). Split chunk by chunk, while the chunk is in memory: splitting all 25 M
        # rows at the end took 7-9 s; by chunk the 25 M-row run is 41.9 -> 36.4 s and its peak
        # 6.7 -> 4.2 GB (bench/FINDINGS.md, fourth session).
        self._by_year: dict[int, list[pl.DataFrame]] = {}
        self._io = ThreadPoolExecutor(1)
        self._writing: Future[None] | None = None
        out.mkdir(parents=True, exist_ok=True)

    def __enter__(self) -> ChunkedBuild:
        return self

    def __exit__(self, *exc: object) -> None:
        self._io.shutdown(wait=True)

    def add(self, lf: pl.LazyFrame) -> None:
        """Per-symbol features of one chunk, written to the next `ts-NNNN.arrow`."""
        lf = per_symbol_features(lf, self.securities)
        lf = self.then(lf) if self.then else lf
        have = set(lf.collect_schema().names())
        carry = [*CARRY, *(c for c in CARRY_IF_PRESENT if c in have)]
        cols = [*KEYS, *self.per_symbol, *carry, "_sector", *self.extra, *self.needs]
        part = lf.select(*dict.fromkeys(cols)).collect(engine="in-memory")
        pieces = (
            part.select(*KEYS, "_sector", *self.needs)
            .with_columns(_year=pl.col("date").dt.year())
            .partition_by("_year", include_key=False, as_dict=True)
        )
        for (year,), piece in pieces.items():
            self._by_year.setdefault(year, []).append(piece)
        stored = part.select(*KEYS, *self.per_symbol, *carry, "_sector", *self.extra)
        stored = stored.with_columns(_as_float32(part, self.per_symbol))
        if self._writing is not None:
            self._writing.result()  # one chunk in flight: memory stays at two chunks
        path = self.out / f"ts-{self.chunks:04d}.arrow"
        self._writing = self._io.submit(_write_through, stored, path)
        self.chunks += 1
        self.rows += part.height

    def finish(self) -> None:
        """The cross-section pass, year by year, to `cross.arrow`; waits for the last work file
        (written while this pass computes: waiting first was a pure wait of ~0.8 s at 5 M rows)."""
        cross = pl.concat(
            [
                pl.concat(self._by_year.pop(year), rechunk=False)
                .lazy()
                .pipe(add_cross_section)
                .select(*KEYS, *CROSS_FEATURES)
                .collect(engine="in-memory")
                .pipe(lambda f: f.with_columns(_as_float32(f, CROSS_FEATURES)))
                for year in sorted(self._by_year)
            ]
        )
        cross.write_ipc(self.out / CROSS_FILE, compression="uncompressed")
        del cross
        if self._writing is not None:
            self._writing.result()


def read_chunked(out: Path) -> pl.DataFrame:
    """The chunked result as one frame (per-symbol files joined with the cross-section)."""
    ts = pl.scan_ipc(out / TS_FILES).collect().drop("_sector")
    cross = pl.scan_ipc(out / CROSS_FILE).collect()
    return ts.join(cross, on=list(KEYS), how="left")


def _write_through(frame: pl.DataFrame, path: Path) -> None:
    """Write `frame` as uncompressed Arrow IPC, flush it to disk and drop it from the page
    cache: at 21-25 M rows the ~10 GB of work files otherwise fill the page cache, and every
    later allocation of the run waited for the kernel to reclaim (write back) those pages; the
    system CPU time was 67-77 s of the run's 113-129 s."""
    frame.write_ipc(path, compression="uncompressed")
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fdatasync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _as_float32(frame: pl.DataFrame, names: Iterable[Any]) -> list[pl.Expr]:
    """Casts to Float32 of the Float64 columns among `names` (the stored features)."""
    return [pl.col(n).cast(pl.Float32) for n in names if frame.schema.get(n) == pl.Float64]
