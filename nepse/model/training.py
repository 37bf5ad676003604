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
from nepse.model.walkforward import WalkForwardResult, walk_forward
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


def train_and_register(
    panel: pl.DataFrame,
    *,
    store: Store,
    settings: Settings,
    models_dir: Path,
    as_of: date,
    force_promote: bool = False,
    spec: FeatureSpec = FEATURE_SPEC,
    progress: Callable[[int, int], None] | None = None,
    market: pl.DataFrame | None = None,
    walk_forward_result: WalkForwardResult | None = None,
) -> TrainingOutcome:
    """Walk-forward evaluate (model + baselines), train the final model, register it.

    The candidate is promoted only when its walk-forward Rank IC beats the champion's and
    every baseline's by the configured margins (or `force_promote`); with `market`
    (nepse.model.backtest.market_frame) also when its backtest's net excess does. Pass
    `walk_forward_result` when the walk-forward already ran (fanned out, see
    `nepse.model.fanout`) on the same panel and settings, through `training_view`.
    """
    names, categorical = list(spec.names), list(spec.categorical)
    # Train, evaluate and promote on the label of settings.label (tradeable by default).
    history, settings = training_view(panel.filter(pl.col("date") <= as_of), settings)
    wf = walk_forward_result or walk_forward(
        history,
        feature_names=names,
        categorical=categorical,
        settings=settings,
        progress=progress,
    )
    model = train_final(
        history,
        feature_names=names,
        categorical=categorical,
        settings=settings,
        as_of=as_of,
        feature_spec=_spec_dict(spec),
    )
    model.meta["label"] = {"name": settings.label, "hold": settings.label_hold}
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
