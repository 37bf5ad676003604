"""`nepse replay`: the service's own schedule over past days (the `replay` flow)."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import _date_opt, _print_counts, _run_flow, app, console, fail


@app.command("replay")
def replay_cmd(
    start: Annotated[str, typer.Option("--from", help="First trading day to replay (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--to", help="Last trading day to replay (YYYY-MM-DD).")],
    source: Annotated[
        str, typer.Option(help="File or folder of NEPSE price files: the history and the days.")
    ],
) -> None:
    """Replay the daily run and the weekly training over past days (runs the `replay` flow).

    Into a fresh NEPSE_DATA_DIR: each day's run sees only that day's and earlier rows. Killed,
    the same command continues after the last completed day.
    """
    from nepse.monitoring import side

    side.prestart()  # Evidently imports in its own process while this one imports the pipeline
    from flows.replay import replay

    state, figures = _run_flow(replay, start=_date_opt(start), end=_date_opt(end), source=source)
    if figures:
        shown = ("days", "return_net", "return_gross", "return_universe", "return_market",
                 "costs", "rank_ic_mean", "drift_alarm_days", "alerts", "trainings",
                 "promotions", "day_seconds_median", "replay_seconds")  # fmt: skip
        _print_counts("Replayed season", {k: figures.get(k) for k in shown})
    if not state.is_completed():
        fail(state)
    console.print(state.message or "replay complete")
