"""Training runs on the tradeable label, backtests every model and writes the trading pictures."""

from __future__ import annotations

import polars as pl

from nepse.model.training import TRADING_REPORT, train_and_register
from nepse.portfolio.market import market_frame
from nepse.settings import load_settings
from nepse.store import open_store
from tests.unit.model.panels import make_panel

FAST = {"retrain_every": 30, "valid_days": 15, "num_boost_round": 15, "early_stopping_rounds": 5}


def _market(panel: pl.DataFrame) -> pl.DataFrame:
    adj = (
        panel.select("symbol", "date", "y_ret")
        .sort("symbol", "date")
        .with_columns(
            adj_close=100
            * (1 + pl.col("y_ret").fill_null(0.0).clip(-0.09, 0.09)).cum_prod().over("symbol")
        )
    )
    return market_frame(
        adj.lazy().with_columns(
            close=pl.col("adj_close"),
            adj_factor=pl.lit(1.0),
            volume=pl.lit(1000.0),
            turnover=pl.col("adj_close") * 1e6,
        )
    ).collect()


def test_tradeable_label_drives_training_and_the_backtest(tmp_path):
    panel, features, _ = make_panel(30, 130, n_noise=1, seed=5)
    # The synthetic signal is in y_ret; give the tradeable label the same values.
    panel = panel.with_columns(y_next_vwap=pl.col("y_ret"), y_next_close=pl.col("y_ret"))
    days = panel.get_column("date").unique().sort().to_list()
    s = load_settings(**FAST, data_dir=tmp_path, test_start=days[90], seeds=(0,))

    class Spec:
        names = tuple(features)
        categorical = ("f_sector",)

        @staticmethod
        def to_json() -> str:
            return '{"names": [], "categorical": []}'

    with open_store(tmp_path / "nepse.duckdb") as store:
        out = train_and_register(
            panel,
            store=store,
            settings=s,
            models_dir=tmp_path / "models",
            as_of=days[-1],
            spec=Spec(),
            market=_market(panel),
        )
    assert out.model.meta["label"] == {"name": "next_vwap", "hold": 5}
    assert out.walk_forward.info["horizon"] == 6  # embargo = the label's reach (hold + 1)
    excess = out.walk_forward.info["backtest_net_excess"]
    assert "lightgbm" in excess and "ridge" in excess
    assert (out.decision.path / TRADING_REPORT).is_file()
    card = (out.decision.path / "card.md").read_text()
    assert "`next_vwap`" in card and "trading.html" in card
    # What ran, in the card's words: the 5-session VWAP hold and the 6-session embargo.
    assert "selling at the VWAP 5 sessions later" in card
    assert "embargo 6 trading session(s)" in card
    assert "6-trading-day" not in card and "day(s)" not in card
