"""`nepse evaluate`: score stored past days with a registered model, print the honest metrics.

Writes no predictions to the
database; `--out` writes the scores (symbol, date, model_version, prediction) as Parquet and
`--report` the self-contained HTML pictures.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import app


def _parse(d: str, name: str) -> date:
    try:
        return date.fromisoformat(d)
    except ValueError as exc:
        raise typer.BadParameter(f"{name} must be YYYY-MM-DD, got {d!r}") from exc


def evaluate_cmd(
    start: Annotated[str, typer.Option("--from", help="First day to score (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last day to score (YYYY-MM-DD).")],
    model: Annotated[
        str | None, typer.Option("--model", help="Registered version (default: champion).")
    ] = None,
    label: Annotated[
        str | None,
        typer.Option("--label", help="next_vwap, next_close or close_to_close (NEPSE_LABEL)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the scores as Parquet to this file.")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write the HTML pictures to this file.")
    ] = None,
    allow_in_sample: Annotated[
        bool,
        typer.Option(
            "--allow-in-sample",
            help="Score days inside the model's training window, marked and left out of metrics.",
        ),
    ] = False,
) -> None:
    """Score stored past days with a registered model (no predictions written) and judge them
    beside the rule baselines on the same rows."""
    from nepse.errors import NepseError
    from nepse.model import registry
    from nepse.model.evaluate import InSampleError, evaluate_days
    from nepse.settings import load_settings
    from nepse.store import open_store

    s = load_settings()
    d0, d1 = _parse(start, "--from"), _parse(end, "--to")
    if d1 < d0:
        raise typer.BadParameter("--to is before --from")
    try:
        with open_store(s.database, read_only=True) as st:
            trained = registry.load_model(st, model, models_dir=s.data_dir / "models")
            ev = evaluate_days(
                st, s, trained, start=d0, end=d1, label=label, allow_in_sample=allow_in_sample
            )
    except InSampleError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(3) from exc
    except (NepseError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        ev.scores.drop("in_sample").write_parquet(out)
    if report is not None:
        _write_report(ev, report)
    summary = ev.summary()
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
        return
    _print(summary)


def _write_report(ev, path: Path) -> None:
    from nepse.features.labels import label_column
    from nepse.model.evaluate import quintile_returns, score_autocorrelation
    from nepse.model.report import trading_figures, trading_report

    if ev.net is None:
        return
    lab = ev.info["label"]
    sc = ev.scores.filter(~ev.scores["in_sample"]).rename({"prediction": "pred_ret"})
    figs = trading_figures(
        ev.net,
        ev.gross,
        ev.rank_ic[lab],
        quintile_returns(sc, ev.labels, label_column(lab)),
        score_autocorrelation(sc),
    )
    base = [{"scores": name, **(b["backtest_net"] or {})} for name, b in ev.baselines.items()]
    page = trading_report(
        figs,
        title=f"nepse evaluate {ev.info['from']}..{ev.info['to']} ({ev.info['model_version']})",
        note=json.dumps(ev.info, default=str),
        tables={
            "Backtest (net)": [ev.net.summary],
            "Backtest (gross: costs added back)": [ev.gross.summary],
            "Baselines on the same rows (net)": base,
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")


def _bt(b: dict | None) -> str:
    if not b or not b.get("n_days"):
        return "no backtest"
    return (
        f"annual {b['annual_return']:+.3f}  excess vs universe {b['excess_ew_annual']:+.3f}/yr "
        f"(t {b['t_ew'] or 0:.2f})  vs market {b['excess_tw_annual']:+.3f}/yr  cost drag "
        f"{b['cost_drag_annual']:.3f}/yr  turnover/day {b['turnover_daily']:.3f}  fill "
        f"{(b['fill_rate'] or 0):.3f}"
    )


def _print(summary: dict) -> None:
    i = summary
    typer.echo(
        f"model {i['model_version']} on {i['from']}..{i['to']}: {i['n_days']} days, "
        f"{i['n_in_sample_days']} in sample (trained up to {i['train_end']}; left out), "
        f"{i['n_tradeable_rows']} of {i['n_rows']} rows tradeable"
    )
    for name, s in i["labels"].items():
        ric = "-" if s["rank_ic"] is None else f"{s['rank_ic']:.4f}"
        t = "-" if s["t"] is None else f"{s['t']:.2f}"
        typer.echo(f"  Rank IC vs {name:<25} {ric}  (t {t}, {s['n_days']} days)")
    typer.echo(f"  backtest net   {_bt(i.get('backtest_net'))}")
    typer.echo(f"  backtest gross {_bt(i.get('backtest_gross'))}")
    typer.echo(f"  baselines on the same rows (Rank IC vs {i['label']}: whole / tradeable):")
    for name, b in i.get("baselines", {}).items():
        ric = "/".join(
            "-" if v is None else f"{v:.4f}" for v in (b["rank_ic"], b["rank_ic_tradeable"])
        )
        typer.echo(f"    {name:<9} Rank IC {ric}  net {_bt(b['backtest_net'])}")
    typer.echo(f"  ({i['seconds']} s wall, {i['cpu_seconds']} s CPU)")


app.command("evaluate")(evaluate_cmd)
