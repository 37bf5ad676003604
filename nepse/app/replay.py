"""A replay's steps: the service's own schedule run over past days of a price source.

The `replay` flow (flows/replay.py) strings these around the service's own flows: `begin`
stages the source (nepse.replay.staging) or, for a replay killed earlier, puts the database
back as its last completed day left it; then, per unit (the history with the first model, then
each trading day), the flow runs `ingest-prices`/`train-model`/`daily-predictions` themselves,
`release_day` puts the day's rows where the day's run reads them, and `complete` records the
unit (its timings, trainings, alerts, the folder sizes) and snapshots the database. Nothing
here scores, trains or trades: those are the flows' own code paths.

No check needs the replayed moment as "now": every run gets its day as `as_of`, and the
system clock, later than every replayed day, is what a late run sees (no row is "future", the
clock is not behind the stored sessions); freshness checks apply only to runs without `as_of`.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from nepse.errors import ConfigError
from nepse.replay.schedule import load_schedule
from nepse.replay.staging import release_day as release_rows
from nepse.replay.staging import stage_source
from nepse.replay.state import (  # HISTORY: the first unit's label, for the flow
    HISTORY,  # noqa: F401
    START,
    ReplayState,
    folder_bytes,
    load_state,
    prune_snapshots,
    restore_snapshot,
    save_snapshot,
    save_state,
)
from nepse.settings import Settings
from nepse.store import open_store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayPlan:
    """What is left to replay and where the runs read it."""

    folder: Path
    """`<data_dir>/replay`: the state, the staged source, the snapshots."""
    source_folder: Path
    """The folder every run of the replay ingests (it grows by one day at a time)."""
    start: date
    end: date
    history_end: date
    needs_history: bool
    """The first unit (ingest the history, train the first model) is still to do."""
    days: tuple[date, ...]
    """The trading days still to replay, in order."""
    total_days: int
    resumed_from: str | None
    """The unit whose database was restored (None: a fresh replay)."""


def replay_folder(settings: Settings) -> Path:
    """Where a data folder's replay keeps its state, staged source and snapshots."""
    return settings.data_dir / "replay"


def begin(settings: Settings, source: str | Path, start: date, end: date) -> ReplayPlan:
    """Stage `source` for a replay of start..end, or resume the replay begun with the same
    parameters: the database goes back to its last completed unit."""
    if end < start:
        raise ConfigError(f"replay: the range {start}..{end} is empty (from is after to)")
    folder, path = replay_folder(settings), Path(source).resolve()
    state = load_state(folder)
    resumed = None
    if state is None:
        _refuse_later_prices(settings, start)
        shutil.rmtree(folder / "source", ignore_errors=True)
        staged = stage_source(path, folder, start, end)
        if staged.history_end is None:
            raise ConfigError(
                f"{path} has no price rows before {start}: a replay trains its first model on "
                "the history before its first day; choose a later --from"
            )
        with _store(settings):  # created (and migrated) so that its starting copy exists
            pass
        state = ReplayState(
            source=str(path),
            start=start,
            end=end,
            days=list(staged.days),
            history_end=staged.history_end,
            staged=asdict(staged) | {"days": len(staged.days)},
        )
        save_snapshot(settings.database, folder, START)
        state.done = START
        save_state(folder, state)
        log.info(
            "replay %s..%s staged from %s: %d trading days, history to %s (%d rows), %d "
            "corporate-action lines, %d unreadable rows not replayed",
            start,
            end,
            path,
            len(staged.days),
            staged.history_end,
            staged.history_rows,
            staged.action_lines,
            staged.unreadable,
        )
    else:
        if (state.source, state.start, state.end) != (str(path), start, end):
            raise ConfigError(
                f"{folder} holds a replay of {state.source} {state.start}..{state.end}; resume "
                f"it with the same parameters, or delete {folder} (and use a fresh "
                "NEPSE_DATA_DIR) to replay something else"
            )
        resumed = state.done
        restore_snapshot(settings.database, folder, state.done)
        _drop_unregistered_models(settings)
        log.info("replay resumed after %s: the database is back as that unit left it", resumed)
    return ReplayPlan(
        folder=folder,
        source_folder=folder / "source",
        start=start,
        end=end,
        history_end=state.history_end,
        needs_history=state.done == START,
        days=tuple(state.remaining()),
        total_days=len(state.days),
        resumed_from=resumed,
    )


def trainings_due(settings: Settings, day: date) -> tuple[date | None, list[datetime]]:
    """The last stored day before `day`'s run and when `train-model` fires between that day's
    daily run and `day`'s (its cron in prefect.yaml): each firing trains as of that day."""
    state = _state(settings)
    previous = state.previous(day)
    return previous, load_schedule().trainings(previous, day)


def release_day(settings: Settings, day: date) -> Path:
    """Put `day`'s rows (and the corporate actions visible by then) where the runs read them."""
    return release_rows(replay_folder(settings), day)


def champion_version(settings: Settings) -> str | None:
    """The registry's champion (None: none yet)."""
    with _store(settings, read_only=True) as st:
        row = st.champion_row()
    return row["version"] if row else None


def complete(settings: Settings, label: str, record: dict[str, Any]) -> dict[str, Any]:
    """Record a finished unit: its record (with the folder sizes now), the database copy, the
    state naming it; returns the record as stored."""
    folder = replay_folder(settings)
    state = _state(settings)
    record = {
        **record,
        "unit": label,
        "sizes": {
            "database": folder_bytes(settings.database),
            "reports": folder_bytes(settings.data_dir / "reports"),
            "models": folder_bytes(settings.data_dir / "models"),
            "work": folder_bytes(settings.data_dir / "work"),
            "data": folder_bytes(settings.data_dir) - folder_bytes(folder),
        },
    }
    save_snapshot(settings.database, folder, label)
    state.done = label
    state.records = [r for r in state.records if r.get("unit") != label] + [record]
    save_state(folder, state)
    prune_snapshots(folder, label)
    return record


def records(settings: Settings) -> list[dict[str, Any]]:
    """Every completed unit's record, in order."""
    return list(_state(settings).records)


def _state(settings: Settings) -> ReplayState:
    state = load_state(replay_folder(settings))
    if state is None:
        raise ConfigError(f"no replay in {replay_folder(settings)}: begin one first")
    return state


def _store(settings: Settings, *, read_only: bool = False):
    return open_store(
        settings.database, read_only=read_only, lock_timeout_s=settings.lock_timeout_s
    )


def _refuse_later_prices(settings: Settings, start: date) -> None:
    """A replay's day must see nothing after it: refuse a database holding prices from `start`."""
    if not settings.database.exists():
        return
    with _store(settings, read_only=True) as st:
        days = st.trading_dates()
    later = [d for d in days.to_list() if d >= start]
    if later:
        raise ConfigError(
            f"database {settings.database} already holds prices of {len(later)} day(s) from "
            f"{later[0]} on, which a replay from {start} must not see before their day: replay "
            "into a fresh NEPSE_DATA_DIR (the securities list may be ingested there first)"
        )


def _drop_unregistered_models(settings: Settings) -> None:
    """Delete model folders (and their published pages) that the restored registry does not
    know: what a training killed after writing its folder left behind."""
    with _store(settings, read_only=True) as st:
        known = set(st.model_versions())
    for parent in (settings.data_dir / "models", settings.data_dir / "reports" / "models"):
        if not parent.is_dir():
            continue
        for folder in parent.iterdir():
            if folder.is_dir() and folder.name not in known:
                shutil.rmtree(folder, ignore_errors=True)
                log.info("removed %s: a killed training's model, not in the registry", folder)


@dataclass(frozen=True)
class SeasonReport:
    """The season report: its page, its figures, and what the replay's run shows of it."""

    path: Path
    url: str | None
    """The page at NEPSE_REPORTS_BASE_URL (None when that is not set)."""
    figures: dict[str, Any]
    markdown: str
    description: str
    table: tuple[dict[str, Any], ...]


def season_report(settings: Settings) -> SeasonReport:
    """Write the season report (reports/replay/season.html) from the database and the
    replay's records; its figures, summary and day table for the run's artifacts."""
    from nepse.app.texts import report_url
    from nepse.model.registry import list_models
    from nepse.monitoring.files import write_text_atomic
    from nepse.replay.page import season_html
    from nepse.replay.season import Season, days_table, figures

    state = _state(settings)
    with _store(settings, read_only=True) as st:
        perf = st.performance()
        drift = st.drift_reports()
        season = Season(
            start=state.start,
            end=state.end,
            source=state.source,
            ledger=st.paper_rows("paper_ledger", state.start, state.end),
            trades=st.paper_rows("paper_trades", state.start, state.end),
            performance=perf.filter(perf["date"].is_between(state.start, state.end)),
            drift=drift.filter(drift["date"].is_between(state.start, state.end)),
            models=tuple(list_models(st)),
            records=tuple(state.records),
        )
    path = settings.data_dir / "reports" / "replay" / "season.html"
    write_text_atomic(path, season_html(season))
    f = figures(season)
    url = report_url(settings, path)
    return SeasonReport(
        path=path,
        url=url,
        figures=f,
        markdown=_season_markdown(state, f, url or str(path)),
        description=f"Replayed season {state.start}..{state.end}",
        table=tuple(days_table(season)),
    )


def _season_markdown(state: ReplayState, f: dict[str, Any], where: str) -> str:
    def pct(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.2%}"

    g = f["growth_mb_per_year"]
    return "\n".join(
        [
            f"# Replayed season {state.start} .. {state.end}",
            "",
            f"{f['days']} trading days of `{state.source}` ({f['first_day']} .. "
            f"{f['last_day']}), each through the daily-predictions flow on its own rows, "
            "train-model on prefect.yaml's schedule.",
            "",
            "| figure | value |",
            "|---|---|",
            f"| NAV net of every cost | {pct(f['return_net'])} |",
            f"| NAV with costs added back | {pct(f['return_gross'])} |",
            f"| equal-weighted universe | {pct(f['return_universe'])} |",
            f"| turnover-weighted market | {pct(f['return_market'])} |",
            f"| costs paid | Rs {f['costs']:,.0f} |",
            f"| mean realised Rank IC ({f['rank_ic_days']} days) | "
            f"{'n/a' if f['rank_ic_mean'] is None else format(f['rank_ic_mean'], '+.4f')} |",
            f"| days with a drift alarm / alerts | {f['drift_alarm_days']} / {f['alerts']} |",
            f"| trainings / promotions | {f['trainings']} / {f['promotions']} |",
            f"| daily runs not completed | {f['daily_runs_not_completed']} |",
            f"| median wall time of a day | {f['day_seconds_median'] or 0:.1f} s |",
            f"| database / reports / data folder a year | {g['database']:.0f} / "
            f"{g['reports']:.0f} / {g['data']:.0f} MB |",
            "",
            f"The full report: {where}",
        ]
    )


def training_record(outcome: Any) -> dict[str, Any]:
    """What the season report keeps of a `train-model` run's outcome (a TrainOutcome): the
    registry's decision, and how many walk-forward jobs it fitted (the rest were reused)."""
    if outcome is None:
        return {}
    import json

    meta_path = Path(outcome.path) / "meta.json"
    jobs = {}
    if meta_path.is_file():
        info = json.loads(meta_path.read_text()).get("walk_forward", {}).get("info", {})
        jobs = info.get("jobs") or {}
    return {
        "version": outcome.version,
        "status": outcome.status,
        "promoted": outcome.promoted,
        "reason": outcome.reason,
        "rank_ic": outcome.rank_ic,
        "fitted": f"{jobs.get('fitted', '?')}/{jobs.get('total', '?')}",
    }
