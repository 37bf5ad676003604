"""Model registry on a real DuckDB file: promotion rule, force, rollback, missing/corrupt files."""

from __future__ import annotations

import dataclasses
import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.errors import ModelNotFoundError
from nepse.model import registry
from nepse.model.final import train_final
from nepse.model.walkforward import walk_forward
from nepse.settings import load_settings
from nepse.store import open_store
from tests.unit.model.panels import make_panel

FAST = {"retrain_every": 30, "valid_days": 15, "num_boost_round": 15, "early_stopping_rounds": 5}


@pytest.fixture(scope="module")
def trained_and_wf(tmp_path_factory):
    panel, features, categorical = make_panel(30, 130, n_noise=1, seed=5)
    days = panel.get_column("date").unique().sort().to_list()
    s = load_settings(**FAST, data_dir=tmp_path_factory.mktemp("unused"))
    result = walk_forward(
        panel,
        feature_names=features,
        categorical=categorical,
        settings=s,
        test_start=days[90],
        seeds=[0],
    )
    model = train_final(
        panel, feature_names=features, categorical=categorical, settings=s, as_of=days[-1]
    )
    return panel, model, result


@pytest.fixture
def con(tmp_path):
    """A migrated store (the registry's only door to its table)."""
    with open_store(tmp_path / "nepse.duckdb") as store:
        yield store


def with_rank_ic(result, model_ric: float, baseline_ric: float | None = 0.01):
    """The same walk-forward result with its Rank ICs overwritten (to drive the rule)."""
    summary = result.summary.with_columns(
        pl.when(pl.col("model") == "lightgbm")
        .then(pl.lit(model_ric))
        .when(pl.col("model") == "zero")
        .then(None)
        .otherwise(pl.lit(baseline_ric))
        .alias("rank_ic")
    )
    return dataclasses.replace(result, summary=summary)


def reg(con, tmp_path, trained_and_wf, rank_ic, baseline_ric=0.01, **kw):
    _, model, result = trained_and_wf
    model = dataclasses.replace(model, meta=dict(model.meta))
    return registry.register(
        con,
        tmp_path / "models",
        model,
        with_rank_ic(result, rank_ic, baseline_ric),
        settings=load_settings(),
        **kw,
    )


def test_first_model_that_beats_baselines_becomes_champion(con, tmp_path, trained_and_wf):
    d = reg(con, tmp_path, trained_and_wf, 0.05)
    assert d.promoted and d.status == "champion"
    assert sorted(p.name for p in d.path.iterdir()) == [
        "card.md",
        "evaluation.html",
        "feature_spec.json",
        "manifest.json",
        "meta.json",
        "model.txt",
        "reference.parquet",
    ]
    row = registry.champion(con)
    assert row["version"] == d.version and row["rank_ic"] == pytest.approx(0.05)
    assert row["metrics"]["rank_ic"] == pytest.approx(0.05)
    assert set(row["baseline_metrics"]) == {
        "zero",
        "reversal",
        "momentum",
        "ridge",
        "random_forest",
    }
    assert row["params"]["seed"] == 0
    assert row["library_versions"]["lightgbm"]
    assert len(row["data_fingerprint"]) == 64
    assert row["feature_spec"]["names"][0].startswith("f_")
    html = (d.path / "evaluation.html").read_text()
    # plotly.js is inlined (several MB), no script is fetched: the report works offline.
    assert len(html) > 1_000_000 and "<script src=" not in html.replace("'", '"')
    assert "| lightgbm |" in (d.path / "card.md").read_text()


def test_refuses_worse_model_and_records_why(con, tmp_path, trained_and_wf):
    first = reg(con, tmp_path, trained_and_wf, 0.05)
    worse = reg(con, tmp_path, trained_and_wf, 0.04)
    assert not worse.promoted and worse.status == "candidate"
    assert "champion" in worse.reason and first.version in worse.reason
    assert registry.champion(con)["version"] == first.version
    assert registry.get(con, worse.version)["reason"] == worse.reason
    # Beating the champion is not enough when a baseline is better.
    loses_to_baseline = reg(con, tmp_path, trained_and_wf, 0.06, baseline_ric=0.07)
    assert not loses_to_baseline.promoted
    assert "baseline" in loses_to_baseline.reason
    better = reg(con, tmp_path, trained_and_wf, 0.06)
    assert better.promoted
    statuses = {m["version"]: m["status"] for m in registry.list_models(con)}
    assert statuses == {
        first.version: "retired",
        worse.version: "candidate",
        loses_to_baseline.version: "candidate",
        better.version: "champion",
    }
    assert [m["version"] for m in registry.list_models(con)] == sorted(statuses, reverse=True)


def test_force_promote_then_rollback(con, tmp_path, trained_and_wf):
    good = reg(con, tmp_path, trained_and_wf, 0.05)
    forced = reg(con, tmp_path, trained_and_wf, 0.0, force_promote=True)
    assert forced.promoted and forced.reason.startswith("force-promoted despite")
    assert registry.champion(con)["version"] == forced.version
    assert registry.previous_champion(con)["version"] == good.version
    assert registry.get(con, good.version)["status"] == "retired"

    assert registry.rollback(con) == good.version
    assert registry.champion(con)["version"] == good.version
    assert registry.get(con, forced.version)["status"] == "retired"
    assert con.count_champions() == 1
    with pytest.raises(ModelNotFoundError, match="no previous champion"):
        registry.rollback(con)


def test_manual_promote(con, tmp_path, trained_and_wf):
    a = reg(con, tmp_path, trained_and_wf, 0.05)
    b = reg(con, tmp_path, trained_and_wf, 0.01)
    registry.promote(con, b.version)
    assert registry.champion(con)["version"] == b.version
    assert registry.previous_champion(con)["version"] == a.version


def test_load_model_round_trip(con, tmp_path, trained_and_wf):
    panel, model, _ = trained_and_wf
    d = reg(con, tmp_path, trained_and_wf, 0.05)
    loaded = registry.load_model(con)
    assert loaded.meta["version"] == d.version
    sample = panel.tail(50)
    assert_frame_equal(loaded.predict(sample), model.predict(sample))
    assert loaded.reference.height > 0 and "pred_ret" in loaded.reference.columns
    meta = json.loads((d.path / "meta.json").read_text())
    assert meta["train_rmse"] == pytest.approx(model.meta["train_rmse"])


def test_unknown_missing_or_corrupt_model_raises(con, tmp_path, trained_and_wf):
    with pytest.raises(ModelNotFoundError, match="no champion"):
        registry.load_model(con)
    with pytest.raises(ModelNotFoundError, match="not in the registry"):
        registry.load_model(con, "20990101-000000-abcdef")
    d = reg(con, tmp_path, trained_and_wf, 0.05)
    (d.path / "model.txt").write_text("this is not a LightGBM model\n")
    with pytest.raises(ModelNotFoundError, match="corrupt"):
        registry.load_model(con, d.version)
    (d.path / "model.txt").unlink()
    with pytest.raises(ModelNotFoundError, match=r"no model\.txt"):
        registry.load_model(con, d.version)
    for f in d.path.iterdir():
        f.unlink()
    d.path.rmdir()
    with pytest.raises(ModelNotFoundError, match="missing"):
        registry.load_model(con, d.version)
