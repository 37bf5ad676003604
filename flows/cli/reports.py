"""Drift and performance reports: build the index, serve it, a performance report."""

from __future__ import annotations

from typing import Annotated

import typer

from flows.cli.common import _date_opt, _settings, app, console, open_db

reports_app = typer.Typer(help="Drift and performance reports.")
app.add_typer(reports_app, name="reports")


@reports_app.command("build")
def reports_build() -> None:
    """Rewrite reports/index.html from the stored drift and performance tables."""
    from nepse.features.labels import label_of_model, predicted_return_text
    from nepse.monitoring.reports import build_index

    s = _settings()
    with open_db(read_only=True) as st:
        rows = st.report_index_rows()
    path = build_index(
        s.data_dir,
        rows,
        s.report_retention_days,
        predicted=predicted_return_text(*label_of_model({}, s)),
    )
    console.print(f"wrote {path.resolve()} ({rows.height} report(s))")


@reports_app.command("serve")
def reports_serve(
    port: Annotated[int, typer.Option(help="Port (0: any free port).")] = 8765,
    host: Annotated[
        str,
        typer.Option(
            help="Interface: 127.0.0.1 (this machine; others through an SSH tunnel or an "
            "authenticating proxy). The server has no login: 0.0.0.0 shows every report to "
            "anyone who can reach the port."
        ),
    ] = "127.0.0.1",
) -> None:
    """Serve the reports folder for review in a browser, read-only (Ctrl-C stops).

    Only regular files inside the reports folder: no link out of it, no folder listing."""
    from nepse.monitoring.reports import serve

    s = _settings()
    server = serve(s.data_dir, host=host, port=port)
    host, bound = server.server_address[:2]
    console.print(f"serving {(s.data_dir / 'reports').resolve()} at http://{host}:{bound}/")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@reports_app.command("performance")
def reports_performance(
    from_: Annotated[str, typer.Option("--from", help="First prediction day (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", help="Last prediction day (YYYY-MM-DD).")],
) -> None:
    """Evidently regression-quality report of stored predictions against realised returns."""
    from nepse.features.panel import build_panel
    from nepse.monitoring.regression_report import performance_report

    s = _settings()
    first, last = _date_opt(from_), _date_opt(to)
    with open_db(read_only=True) as st:
        preds = st.predictions(start=first, end=last).select(
            "date", "symbol", "pred_ret", "model_version"
        )
        if preds.is_empty():
            console.print(f"no stored predictions between {first} and {last}")
            raise typer.Exit(1)
        labels = build_panel(st, s, start=first, label=True).frame.select("symbol", "date", "y_ret")
    frame = preds.join(labels, on=["symbol", "date"], how="left")
    out = s.data_dir / "reports" / "performance" / f"performance-{first}-{last}.html"
    path = performance_report(frame, out_html=out)
    known = frame["y_ret"].is_not_null().sum()
    console.print(f"wrote {path.resolve()} ({known} of {frame.height} predictions with outcomes)")
