"""Training end to end: walk-forward evaluation, the final model, registration (and promotion)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from nepse.features import FEATURE_SPEC, FeatureSpec
from nepse.features.labels import training_view
from nepse.model.evaluate import backtest_excess, walk_forward_backtests, write_trading_report
from nepse.model.final import TrainedModel, train_final
from nepse.model.registry import RegistryDecision, register
from nepse.model.walkforward import Executor, Progress, WalkForwardResult, walk_forward
from nepse.settings import Settings
from nepse.store import Store

log = logging.getLogger(__name__)
TRADING_REPORT = "trading.html"
"""Per model folder: the NEPSE backtest pictures (written when training gets a market frame)."""


@dataclass(frozen=True)
class TrainingOutcome:
    """What a training run produced: the registry's decision, the evaluation, the model."""

    decision: RegistryDecision
    walk_forward: WalkForwardResult
    model: TrainedModel


def evaluate(
    panel: pl.DataFrame,
    *,
    settings: Settings,
    as_of: date,
    spec: FeatureSpec = FEATURE_SPEC,
    executor: Executor | None = None,
    checkpoint_dir: Path | None = None,
    progress: Callable[[Progress], None] | None = None,
) -> WalkForwardResult:
    """The walk-forward a candidate is judged by: rows up to `as_of`, the label of
    `settings.label` embargoed by its reach (`training_view`), the spec's features."""
    history, settings = training_view(panel.filter(pl.col("date") <= as_of), settings)
    return walk_forward(
        history,
        feature_names=list(spec.names),
        categorical=list(spec.categorical),
        settings=settings,
        executor=executor,
        checkpoint_dir=checkpoint_dir,
        progress=progress,
    )


def train_and_register(
    panel: pl.DataFrame,
    *,
    store: Store,
    settings: Settings,
    models_dir: Path,
    as_of: date,
    force_promote: bool = False,
    spec: FeatureSpec = FEATURE_SPEC,
    market: pl.DataFrame | None = None,
    walk_forward_result: WalkForwardResult | None = None,
    progress: Callable[[str], None] | None = None,
) -> TrainingOutcome:
    """Walk-forward evaluate (model + baselines), train the final model, register it.

    The candidate is promoted only when its walk-forward Rank IC beats the champion's and
    every baseline's by the configured margins (or `force_promote`); with `market`
    (nepse.model.backtest.market_frame) also when its backtest's net excess does. Pass
    `walk_forward_result` when `evaluate` already ran on the same panel, settings and `as_of`
    (else it runs here, in this process). `progress(text)` is called as each step starts.
    """
    say = progress or (lambda text: None)
    names, categorical = list(spec.names), list(spec.categorical)
    wf = walk_forward_result or evaluate(panel, settings=settings, as_of=as_of, spec=spec)
    # Train, evaluate and promote on the label of settings.label (tradeable by default).
    history, settings = training_view(panel.filter(pl.col("date") <= as_of), settings)
    say("final model: fitting on the latest window")
    model = train_final(
        history,
        feature_names=names,
        categorical=categorical,
        settings=settings,
        as_of=as_of,
        feature_spec=_spec_dict(spec),
    )
    say(
        f"final model: {model.meta['n_fit']} fit + {model.meta['n_valid']} validation rows "
        f"({model.meta['train_start']}..{model.meta['train_end']}), "
        f"{model.meta['best_iteration']} rounds"
    )
    model.meta["label"] = {"name": settings.label, "hold": settings.label_hold}
    if market is not None:
        say("backtests of the model and the baselines with NEPSE costs")
    runs = walk_forward_backtests(wf, market, settings) if market is not None else {}
    if market is not None:
        wf.info["backtest_net_excess"] = backtest_excess(runs)
    decision = register(
        store, models_dir, model, wf, settings=settings, force_promote=force_promote
    )
    if market is not None:
        write_trading_report(
            wf, market, settings, decision.path / TRADING_REPORT, net=runs.get("lightgbm")
        )
    log.info(
        "model %s: walk-forward Rank IC %s -> %s (%s)",
        decision.version,
        decision.rank_ic,
        decision.status,
        decision.reason,
    )
    return TrainingOutcome(decision=decision, walk_forward=wf, model=model)


def _spec_dict(spec: FeatureSpec) -> dict:
    import json

    return json.loads(spec.to_json())
