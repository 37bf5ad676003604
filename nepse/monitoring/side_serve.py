"""The Evidently side process: what answers `nepse.monitoring.side`'s requests.

Started as `python -m nepse.monitoring.side_serve` by a daily run: it imports Evidently, then
answers requests on stdin until end of input. The protocol and the client are in
nepse/monitoring/side.py.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from datetime import date
from pathlib import Path
from typing import IO, Any

from nepse.monitoring.side import READY

log = logging.getLogger(__name__)

_pages: dict[str, Any] = {}
"""The day's run rendered by `drift_page`, kept for `workspace_run` (by out_html)."""
_workspaces: dict[str, Any] = {}
"""Workspaces opened ahead by `open_workspace` (by data_dir)."""


def open_workspace(data_dir: str) -> str:
    """Open the Evidently workspace under `data_dir` ahead of the day's run (Evidently's
    `Workspace` reads every stored run when it opens), while the daily run scores."""
    from nepse.monitoring.workspace import open_workspace as open_ws

    _workspaces[data_dir] = open_ws(Path(data_dir))
    return data_dir


def drift_page(
    baseline_dir: str,
    current: str,
    summary: dict,
    day: str,
    model_version: str,
    columns: int,
    rank_ic: float | None,
    out_html: str,
) -> str:
    """Evidently's run of the day (`nepse.monitoring.page.day_snapshot`) over the window in
    `current` (Parquet) against the baseline saved in `baseline_dir`, written as its HTML page;
    its verdict alone is kept for `workspace_run`."""
    import polars as pl

    from nepse.monitoring.baseline import DriftBaseline
    from nepse.monitoring.drift import DriftSummary
    from nepse.monitoring.files import write_text_atomic
    from nepse.monitoring.page import day_snapshot, page_html
    from nepse.monitoring.realised import load_rank_ic_calibration

    walk_forward = load_rank_ic_calibration(Path(baseline_dir))
    args = {
        "baseline": DriftBaseline.load(Path(baseline_dir)),
        "current": pl.read_parquet(current),
        "summary": DriftSummary.from_dict(summary),
        "day": date.fromisoformat(day),
        "model_version": model_version,
        "rank_ic": rank_ic,
        "rank_ic_history": None if walk_forward is None else list(walk_forward.values),
    }
    write_text_atomic(Path(out_html), page_html(day_snapshot(**args, columns=columns)))
    _pages[out_html] = day_snapshot(**args, columns=0)  # the verdict alone, for the workspace
    return out_html


def workspace_run(
    out_html: str, data_dir: str, day: str, model_version: str, keep_days: int
) -> str:
    """Put the run rendered for `out_html` into the Evidently workspace under `data_dir`."""
    from nepse.monitoring.workspace import open_workspace as open_ws
    from nepse.monitoring.workspace import put_day_run

    snapshot = _pages.pop(out_html, None)
    if snapshot is None:
        raise RuntimeError(f"no run was rendered for {out_html} (its page failed)")
    ws = _workspaces.get(data_dir) or open_ws(Path(data_dir))
    return put_day_run(
        ws,
        Path(data_dir),
        snapshot,
        day=date.fromisoformat(day),
        model_version=model_version,
        keep_days=keep_days,
    )


OPS = {"open_workspace": open_workspace, "drift_page": drift_page, "workspace_run": workspace_run}


def _import_evidently() -> float:
    """The slow imports the side process exists for; their seconds."""
    t0 = time.perf_counter()
    import evidently.metrics
    import evidently.ui.workspace  # noqa: F401

    import nepse.monitoring.page  # noqa: F401

    return round(time.perf_counter() - t0, 3)


def _answer(requests: IO[str], replies: IO[str]) -> None:
    """Answer each request line with a reply line, in order, until end of input."""
    for line in requests:
        request = json.loads(line)
        try:
            result = OPS[request["op"]](**request["args"])
            reply = {"id": request["id"], "ok": result}
        except Exception as exc:
            traceback.print_exc()
            reply = {"id": request["id"], "error": f"{type(exc).__name__}: {exc}"}
        replies.write(json.dumps(reply, default=str) + "\n")
        replies.flush()


def serve() -> None:
    """Import Evidently, then answer requests until end of input."""
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # stray prints must not break the replies
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    replies.write(json.dumps({READY: _import_evidently()}) + "\n")
    _answer(sys.stdin, replies)
    replies.flush()
    sys.stderr.flush()
    os._exit(0)  # Python's teardown of Evidently's objects takes ~1 s and saves nothing


if __name__ == "__main__":
    serve()
