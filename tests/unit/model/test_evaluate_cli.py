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
