"""Commands that run the main flows: train, daily, demo."""

from __future__ import annotations

import dataclasses
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated

import typer

from flows.cli.common import _date_opt, _print_counts, _run_flow, _settings, app, console, fail
from flows.cli.prefect_server import DEFAULT_PORT, free_port_from, start_server
from flows.cli.prefect_server import running as server_running


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
    if not state.is_completed():
        fail(state)
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

    # Progress lines are the run's log lines (walk-forward jobs, then the final model).
    state, out = _run_flow(train_model, as_of=_date_opt(as_of), force_promote=force_promote)
    if out:
        out = dataclasses.asdict(out)
        out["baseline_rank_ic"] = ", ".join(
            f"{k}={v:.4f}" for k, v in out.get("baseline_rank_ic") or () if v is not None
        )
        _print_counts("Training", out)
    if not state.is_completed():
        fail(state)


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
    from nepse.monitoring import side

    day = _date_opt(as_of)
    side.prestart()  # Evidently imports in its own process while this one imports the pipeline
    from flows.daily import daily_predictions

    state, summary = _run_flow(daily_predictions, as_of=day, source=source)
    _print_daily(state, summary)


DEMO_TRAINING = {
    "NEPSE_SEEDS": "[0]",
    "NEPSE_RETRAIN_EVERY": "126",
    "NEPSE_NUM_BOOST_ROUND": "100",
    "NEPSE_PROMOTE_FIRST_MODEL": "true",
}
"""Settings of the demo's first training: one seed, retraining every ~6 months, and its model
made the champion even if it does not beat the baselines (its card says so)."""


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
    # A demo shows the product, not a model evaluation: a short walk-forward (your own
    # NEPSE_* settings win; `nepse train` with the defaults is the real evaluation).
    demo = {k: v for k, v in DEMO_TRAINING.items() if k not in os.environ}
    os.environ.update(demo)
    from nepse.monitoring import side

    side.prestart()  # Evidently imports in its own process while this one imports the pipeline
    starting = None
    if not (server_running() or os.environ.get("PREFECT_API_URL")):
        # The server starts (and migrates a new home's database) in its own process while this
        # one imports the pipeline: the thread only waits on that process. Prefect reads its API
        # URL when it is imported, so the URL is fixed first.
        port = free_port_from(DEFAULT_PORT)
        os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
        starting = ThreadPoolExecutor(1, "nepse-server-start").submit(start_server, port)
    with console.status(
        "importing the pipeline…"
        if starting is None
        else "starting a local Prefect server (nepse server start)…"
    ):
        from flows.daily import daily_predictions

        if starting is not None:
            state = starting.result()  # re-raises the start's error
            if state["api_url"] != os.environ["PREFECT_API_URL"]:  # another start won a race
                raise typer.BadParameter(
                    f"a Prefect server came up at {state['api_url']} while this demo expected "
                    f"{os.environ['PREFECT_API_URL']}; run the demo again (it will use it)"
                )
    if starting is not None:
        console.print(
            f"Prefect UI: {state['api_url'].removesuffix('/api')} (left running for review; "
            "stop it with ./run nepse server stop)"
        )

    console.print(
        f"[bold]NEPSE demo[/bold]: sample market of {symbols} equities x {years:g} years -> "
        "ingest -> train (first run) -> predictions -> drift report"
    )
    if demo:
        console.print(
            "demo training settings (a short walk-forward, not the real evaluation): "
            + ", ".join(f"{k}={v}" for k, v in demo.items())
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
