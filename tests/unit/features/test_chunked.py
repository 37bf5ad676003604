"""The chunked feature build (tests/unit/features/chunked.py, which the scale benchmarks time)
equals the one-shot build cast to Float32, bit for bit: chunks of symbols, the cross-section
year by year."""

from __future__ import annotations

import polars as pl

from nepse.devdata.sample import iter_panel
from nepse.features import FULL_SPEC, build_features
from nepse.features.adjust import adjust_prices
from tests.unit.features.chunked import ChunkedBuild, read_chunked


def test_chunked_equals_one_shot_as_float32(tmp_path, settings):
    chunks = [
        adjust_prices(c.lazy(), None).collect()
        for c in iter_panel(symbols=12, years=2.5, seed=3, chunk_symbols=5)
    ]
    assert len(chunks) == 3  # several chunks, and the 2.5 years span three calendar years
    whole = pl.concat(chunks)
    assert whole["date"].dt.year().n_unique() >= 3
    with ChunkedBuild(tmp_path, names=FULL_SPEC.names) as build:
        for c in chunks:
            build.add(c.lazy())
        build.finish()
    assert (build.chunks, build.rows) == (3, whole.height)
    got = read_chunked(tmp_path).sort("symbol", "date")
    ref = build_features(whole.lazy(), spec=FULL_SPEC).collect()
    feats = [c for c in ref.columns if c.startswith("f_")]
    ref32 = ref.with_columns(
        pl.col(c).cast(pl.Float32) for c in feats if ref[c].dtype == pl.Float64
    )
    assert got.select(feats).schema == ref32.select(feats).schema
    assert got.select("symbol", "date", *feats).equals(ref32.select("symbol", "date", *feats))
