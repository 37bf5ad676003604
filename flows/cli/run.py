"""Commands that run the main flows: train, daily, demo."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import _date_opt, _print_counts, _run_flow, _settings, app, console


def _print_daily(state, summary) -> None:
    if summary is not None:
        _print_counts(
            "Daily predictions",
            {
                "as_of": summary.as_of,
                "model_version": summary.model_version,
                "is_fallback": summary.is_fallback,
                "n_predictions": summary.n_predictions,
                "predictions_path": summary.predictions_path,
                "drift_report": summary.drift_report,
                "dataset_drift": summary.dataset_drift,
                "alerts": summary.alerts,
            },
        )
    if state.is_failed():
        console.print(f"[red]{state.name}:[/red] {state.message}")
        raise typer.Exit(1)
    if state.message:
        console.print(state.message)


@app.command("train")
def train_cmd(
    as_of: Annotated[str | None, typer.Option(help="Last day of data to use (YYYY-MM-DD).")] = None,
    force_promote: Annotated[
        bool, typer.Option(help="Promote even if it does not beat champion and baselines.")
    ] = False,
) -> None:
    """Walk-forward evaluate, train and register a model (runs the `train-model` flow)."""
    from flows.train import train_model

    state, out = _run_flow(train_model, as_of=_date_opt(as_of), force_promote=force_promote)
    if out:
        out = dict(out)
        out["baseline_rank_ic"] = ", ".join(
            f"{k}={v:.4f}" for k, v in (out.get("baseline_rank_ic") or {}).items() if v is not None
        )
        _print_counts("Training", out)
    if state.is_failed():
        console.print(f"[red]failed:[/red] {state.message}")
        raise typer.Exit(1)


@app.command("daily")
def daily_cmd(
    as_of: Annotated[
        str | None, typer.Option(help="Trading day to score (default: latest, Kathmandu time).")
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="'sample', 'api' or a path (default NEPSE_SOURCE).")
    ] = None,
) -> None:
    """Score every active equity for a day (runs the `daily-predictions` flow)."""
    from flows.daily import daily_predictions

    state, summary = _run_flow(daily_predictions, as_of=_date_opt(as_of), source=source)
    _print_daily(state, summary)


@app.command("demo")
def demo_cmd(
    symbols: Annotated[int, typer.Option(help="Sample market size (equities).")] = 250,
    years: Annotated[float, typer.Option(help="Sample market history in years.")] = 6.0,
) -> None:
    """The main job end to end on the sample market: ingest, train if needed, score, drift."""
    t0 = time.perf_counter()
    os.environ.setdefault("NEPSE_SOURCE", "sample")
    os.environ["NEPSE_SAMPLE_SYMBOLS"] = str(symbols)
    os.environ["NEPSE_SAMPLE_YEARS"] = str(years)
    from flows.daily import daily_predictions

    console.print(
        f"[bold]NEPSE demo[/bold]: sample market of {symbols} equities x {years:g} years -> "
        "ingest -> train (first run) -> predictions -> drift report"
    )
    state, summary = _run_flow(daily_predictions, source="sample")
    s = _settings()
    if summary is not None:
        # Plain echo: paths must stay on one line whatever the terminal width.
        typer.echo("")
        typer.echo(f"predictions:   {Path(summary.predictions_path).resolve()}")
        if summary.drift_report:
            typer.echo(f"drift report:  {Path(summary.drift_report).resolve()}")
        typer.echo(f"report index:  {Path(summary.report_index).resolve()}")
        typer.echo(f"database:      {s.database.resolve()}")
        typer.echo("review reports: ./run nepse reports serve   (then open the printed URL)")
    console.print(f"done in {time.perf_counter() - t0:.0f} s")
    _print_daily(state, summary)
