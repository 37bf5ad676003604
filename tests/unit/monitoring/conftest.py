"""Shared fixtures of the monitoring tests: a sample market's features and its drift baseline."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from nepse.devdata.sample import generate_panel
from nepse.features import FEATURE_SPEC, build_features
from nepse.features.adjust import adjust_prices
from nepse.monitoring.baseline import DriftBaseline, build_baseline

WINDOW = 5


def window_of(feat: pl.DataFrame, days: list[date], end: int) -> pl.DataFrame:
    """The WINDOW sessions of `feat` ending at session number `end`."""
    return feat.filter(pl.col("date").is_between(days[end - WINDOW + 1], days[end]))


@pytest.fixture(scope="session")
def market() -> tuple[pl.DataFrame, list[date]]:
    """Features of a 3-year, 80-stock sample market, with a stand-in prediction column."""
    prices = generate_panel(symbols=80, years=3, seed=3)
    feat = build_features(adjust_prices(prices, None), None).collect()
    feat = feat.with_columns(pred_ret=-pl.col("f_ret_1") + 0.01 * pl.col("f_ma_ratio_20"))
    return feat, sorted(feat["date"].unique().to_list())


@pytest.fixture(scope="session")
def baseline(market) -> DriftBaseline:
    feat, days = market
    return build_baseline(
        feat.filter(pl.col("date") <= days[-60]),
        features=list(FEATURE_SPEC.names),
        categorical=list(FEATURE_SPEC.categorical),
        window=WINDOW,
        reference_days=100,
        calibration_days=300,
        quantile=0.99,
    )


class Disk:
    """The disk under `nepse.monitoring.files`, which a test can fill and free."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._mp = monkeypatch

    def fill(self) -> None:
        """From now on a text write stops half-way with ENOSPC, and a Parquet write leaves a
        stub and fails as Polars does on a real full disk (checked on a 64 KiB tmpfs)."""
        import errno

        import nepse.monitoring.files as files

        class HalfThenFull:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                self.f.write(data[: len(data) // 2])
                raise OSError(errno.ENOSPC, "No space left on device")

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

        def full_open(path, mode="r", *args, **kwargs):
            f = open(path, mode, *args, **kwargs)  # noqa: SIM115 - closed by the wrapper
            return HalfThenFull(f) if "w" in mode else f

        def parquet_then_full(frame, path, *args, **kwargs):
            Path(path).write_bytes(b"PAR1")
            raise pl.exceptions.ComputeError(
                "parquet: File out of specification: underlying IO error: No space left on "
                "device (os error 28)"
            )

        self._mp.setattr(files, "open", full_open, raising=False)
        self._mp.setattr(pl.DataFrame, "write_parquet", parquet_then_full)

    def free(self) -> None:
        """Space again."""
        self._mp.undo()


@pytest.fixture
def disk(monkeypatch) -> Disk:
    """The disk, to fill (simulated ENOSPC) and free in a test."""
    return Disk(monkeypatch)
