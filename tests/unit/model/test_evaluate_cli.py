"""`nepse evaluate` glue: refusal exit code, --json, --out Parquet (library faked)."""

from __future__ import annotations

from datetime import date

import polars as pl
import typer
from typer.testing import CliRunner

from flows.cli.evaluate import evaluate_cmd
from nepse.model import evaluate as ev_mod
from nepse.model import registry

app = typer.Typer()
app.command("evaluate")(evaluate_cmd)
app.command("noop")(lambda: None)  # two commands: typer keeps the sub-command name


class _Store:
    """Stands in for the store (the library is faked)."""

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return None


def _fake(monkeypatch, tmp_path, evaluate):
    monkeypatch.setenv("NEPSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr("nepse.store.open_store", lambda *a, **k: _Store())
    monkeypatch.setattr(registry, "load_model", lambda *a, **k: object())
    monkeypatch.setattr(ev_mod, "evaluate_days", evaluate)


def test_in_sample_days_are_refused(monkeypatch, tmp_path):
    def refuse(*a, **k):
        raise ev_mod.InSampleError("days 2025-01-01..2025-06-30 are in sample")

    _fake(monkeypatch, tmp_path, refuse)
    r = CliRunner().invoke(app, ["evaluate", "--from", "2025-01-01", "--to", "2025-12-31"])
    assert r.exit_code == 3 and "in sample" in r.output


def test_json_and_parquet_out(monkeypatch, tmp_path):
    scores = pl.DataFrame(
        {
            "symbol": ["A"],
            "date": [date(2025, 7, 1)],
            "model_version": ["v1"],
            "prediction": [0.01],
            "in_sample": [False],
        }
    )
    info = {
        "model_version": "v1",
        "from": "2025-07-01",
        "to": "2025-07-31",
        "n_days": 1,
        "n_in_sample_days": 0,
        "train_end": "2025-06-30",
        "seconds": 0.1,
        "cpu_seconds": 0.1,
        "label": "next_vwap",
    }
    fake = ev_mod.Evaluation(scores, pl.DataFrame(), {}, None, None, info)
    _fake(monkeypatch, tmp_path, lambda *a, **k: fake)
    out = tmp_path / "scores.parquet"
    r = CliRunner().invoke(
        app, ["evaluate", "--from", "2025-07-01", "--to", "2025-07-31", "--json", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert '"model_version": "v1"' in r.output
    assert pl.read_parquet(out).columns == ["symbol", "date", "model_version", "prediction"]


def test_the_report_prints_the_baselines_on_the_same_rows(monkeypatch, tmp_path):
    bt = {
        "n_days": 5, "annual_return": 0.1, "excess_ew_annual": -0.05, "t_ew": -1.2,
        "excess_tw_annual": -0.02, "cost_drag_annual": 0.03, "turnover_daily": 0.01,
        "fill_rate": 0.9,
    }  # fmt: skip
    info = {
        "model_version": "v1", "from": "2025-07-01", "to": "2025-07-31", "n_days": 5,
        "n_in_sample_days": 0, "train_end": "2025-06-30", "seconds": 0.1, "cpu_seconds": 0.1,
        "label": "next_vwap", "n_rows": 50, "n_tradeable_rows": 30,
    }  # fmt: skip
    base = {
        "reversal": {"rank_ic": 0.04, "rank_ic_tradeable": 0.03, "backtest_net": bt},
        "random": {"rank_ic": 0.001, "rank_ic_tradeable": None, "backtest_net": None},
    }
    fake = ev_mod.Evaluation(pl.DataFrame(), pl.DataFrame(), {}, None, None, info, base)
    monkeypatch.setattr(ev_mod.Evaluation, "summary", lambda self: {
        **self.info, "labels": {}, "backtest_net": bt, "backtest_gross": bt,
        "baselines": self.baselines,
    })  # fmt: skip
    _fake(monkeypatch, tmp_path, lambda *a, **k: fake)
    r = CliRunner().invoke(app, ["evaluate", "--from", "2025-07-01", "--to", "2025-07-31"])
    assert r.exit_code == 0, r.output
    assert "30 of 50 rows tradeable" in r.output
    assert "baselines on the same rows" in r.output
    assert "reversal  Rank IC 0.0400/0.0300" in r.output and "excess vs universe -0.050" in r.output
    assert "random    Rank IC 0.0010/-  net no backtest" in r.output
