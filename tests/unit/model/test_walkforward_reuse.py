"""Weekly retraining reuses the walk-forward's checkpoints where a job's data did not change.

A job is keyed by the rows it reads (fit, validation, test, the bins' days), not by its place in
the plan: a walk-forward on a grown panel refits only the blocks whose rows changed and gives
exactly what a walk-forward from scratch gives on the same panel.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from nepse.model.data import years_before
from nepse.model.walkforward import walk_forward
from nepse.model.walkforward.plan import default_test_start
from nepse.settings import load_settings
from tests.unit.model.panels import make_panel, trading_calendar
from tests.unit.model.test_checkpoint import FAST, fitted, same


@pytest.fixture(scope="module")
def grown():
    """A 170-day panel and the same market as it stood 20 sessions earlier."""
    panel, features, categorical = make_panel(30, 170, n_noise=1, seed=4)
    days = panel.get_column("date").unique().sort().to_list()
    cut = days[149]
    # What was stored then: the rows up to `cut`, whose last day's labels were not known yet.
    earlier = panel.filter(pl.col("date") <= cut).with_columns(
        pl.when(pl.col("date") == cut).then(None).otherwise(pl.col("y_ret")).alias("y_ret")
    )
    settings = load_settings(**FAST, test_start=days[100], seeds=(0, 1))
    kw = {"feature_names": features, "categorical": categorical, "settings": settings}
    return earlier, panel, days, kw


def test_a_grown_panel_refits_only_its_changed_and_new_blocks(grown, tmp_path, monkeypatch):
    earlier, panel, _, kw = grown
    first = walk_forward(earlier, checkpoint_dir=tmp_path, **kw)
    assert first.blocks.height == 3  # 100-119, 120-139, and 140-148 (149 is unlabelled)
    calls = fitted(monkeypatch)
    reused = walk_forward(panel, checkpoint_dir=tmp_path, **kw)
    # Blocks 0 and 1 read the same rows as before; block 2 gained test days, block 3 is new.
    assert sorted(calls) == [(2, 0), (2, 1), (3, 0), (3, 1)]
    assert reused.info["jobs"] == {"total": 9, "fitted": 5, "where": "in this process"}
    calls.clear()
    scratch = walk_forward(panel, **kw)
    assert len(calls) == 8  # every block x seed, no checkpoint
    same(reused, scratch)


def test_a_changed_row_refits_every_block_that_reads_it(grown, tmp_path, monkeypatch):
    _, panel, days, kw = grown
    walk_forward(panel, checkpoint_dir=tmp_path, **kw)
    # A corrected value on a day of block 1's test period, e.g. a late price correction.
    edited = panel.with_columns(
        pl.when((pl.col("date") == days[125]) & (pl.col("symbol") == "S003"))
        .then(pl.col("f_ret_1") + 0.01)
        .otherwise(pl.col("f_ret_1"))
        .alias("f_ret_1")
    )
    calls = fitted(monkeypatch)
    again = walk_forward(edited, checkpoint_dir=tmp_path, **kw)
    # Block 0 never reads day 125; blocks 1 (test), 2 and 3 (fit or validation) do.
    assert sorted({b for b, _ in calls}) == [1, 2, 3]
    calls.clear()
    same(again, walk_forward(edited, **kw))


def test_the_default_test_start_stays_on_its_grid_as_days_are_added():
    days = trading_calendar(1400, date(2015, 1, 1))
    starts = {default_test_start(days[:n], 126) for n in range(900, 1400, 5)}
    for n in range(900, 1400, 5):
        start = default_test_start(days[:n], 126)
        assert days.index(start) % 126 == 0  # on the grid counted from the first session
        assert start <= years_before(days[n - 1], 2.0)  # at least two years of test days
        assert days[n - 1] - start < timedelta(days=round(2.5 * 365.25) + 1)
    # 500 sessions added five at a time: the start moved only when the grid was crossed.
    assert 3 <= len(starts) <= 5


def test_rounding_noise_and_swapped_ties_are_the_same_rows(grown, tmp_path, monkeypatch):
    """Rebuilt with more days, the feature pipeline rounds history differently (module doc of
    nepse.model.walkforward.days): such a day is the same version; a real change is not."""
    _, panel, days, kw = grown
    walk_forward(panel, checkpoint_dir=tmp_path, **kw)
    on_day = panel.filter(pl.col("date") == days[60])
    a, b = (on_day.filter(pl.col("symbol") == s)["f_roc_5"][0] for s in ("S001", "S002"))
    assert a is not None and b is not None and a != b
    swap = pl.col("date") == days[60]
    noisy = panel.with_columns(
        (pl.col("f_ma_ratio_10") * (1 + 1e-13)).alias("f_ma_ratio_10"),
        # Two stocks' values swapped on a day, as tied stocks fall either way in a rank.
        pl.when(swap & (pl.col("symbol") == "S001"))
        .then(b)
        .when(swap & (pl.col("symbol") == "S002"))
        .then(a)
        .otherwise(pl.col("f_roc_5"))
        .alias("f_roc_5"),
    )
    calls = fitted(monkeypatch)
    walk_forward(noisy, checkpoint_dir=tmp_path, **kw)
    assert calls == []
    changed = panel.with_columns((pl.col("f_ma_ratio_10") * (1 + 1e-4)).alias("f_ma_ratio_10"))
    walk_forward(changed, checkpoint_dir=tmp_path, **kw)
    assert len(calls) == 8  # every fit: every day's rows changed


def test_a_feature_of_zeros_is_the_same_day_despite_rounding_but_not_a_real_change():
    """A day's sums (|x|, x, x^2 per column, nepse.model.walkforward.days): a column that is
    all about zero moves by ~1e-8 between rebuilds (measured: f_log_turnover_20 on 2011-03-17)
    and must not make a new version; a change of one row by 1e-3 must."""
    import numpy as np

    from nepse.model.walkforward.days import _close

    def sums(col0: list[float], col1: list[float]) -> np.ndarray:
        x = np.array([col0, col1]).T
        return np.concatenate([np.abs(x).sum(0), x.sum(0), (x * x).sum(0)])

    base = sums([0.0, 0.0, 0.0], [8.9, 1.2, -0.4])
    assert _close(base, sums([1.2e-8, 0.0, 0.0], [8.9, 1.2, -0.4]))
    assert _close(base, sums([0.0, 0.0, 0.0], [8.9 * (1 + 1e-12), 1.2, -0.4]))
    assert not _close(base, sums([1e-3, 0.0, 0.0], [8.9, 1.2, -0.4]))
    assert not _close(base, sums([0.0, 0.0, 0.0], [8.9, 1.2, -0.401]))
