"""The feature catalogue: every feature name, the model's subset, the spec stored with a model.

The definitions live in features/steps.py (its module docstring is the spec of what each feature
looks at); this module only names them, so that importing the names costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

CARRY = ("adj_close", "is_break")
"""Carried beside the features: the adjusted close (labels) and segment breaks."""
CARRY_IF_PRESENT = ("close",)
"""Carried when the input has it: the raw close as traded (drift monitoring reads its tick:
NEPSE's calculated closes of 2025 were off the tick)."""
WINDOWS = (5, 10, 20, 30, 60)
VOL_WINDOWS = (5, 10, 20, 60)
VOLUME_WINDOWS = (5, 20, 60)
TURNOVER_WINDOWS = (5, 20)
RANKED = ("ret_1", "roc_5", "roc_20", "vol_20", "rsi_14", "log_turnover_20", "vratio_20")

# NEPSE sector names as in the NEPSE API's CompanyList (2025-08-30), sorted: the position is the
# integer code LightGBM sees, so the list is part of the feature spec and only ever appended to.
NEPSE_SECTORS = (
    "Commercial Banks",
    "Development Banks",
    "Finance",
    "Hotels And Tourism",
    "Hydro Power",
    "Investment",
    "Life Insurance",
    "Manufacturing And Processing",
    "Microfinance",
    "Mutual Fund",
    "Non Life Insurance",
    "Others",
    "Tradings",
)

# The original design's lag / moving-average / volatility features: its RandomForest (the
# baseline in nepse/model/baselines.py) used exactly these.
LAG_MA_VOL_FEATURES = (
    "f_ret_1",
    "f_ret_lag_1",
    "f_ret_lag_2",
    "f_ret_lag_3",
    "f_ret_lag_5",
    "f_ma_ratio_5",
    "f_ma_ratio_10",
    "f_ma_ratio_20",
    "f_vol_5",
    "f_vol_10",
    "f_vol_20",
)
# The original design's whole set.
BASE_FEATURES = (
    *LAG_MA_VOL_FEATURES,
    "f_rsi_14",
    "f_macd",
    "f_macd_signal",
    "f_macd_hist",
)


def _feature_names() -> tuple[str, ...]:
    """Every feature `build_features` can compute (the catalogue), in a stable order."""
    names = [*BASE_FEATURES]
    names += ["f_ma_ratio_30", "f_ma_ratio_60", "f_vol_60"]
    names += [
        "f_kmid",
        "f_klen",
        "f_kmid2",
        "f_kup",
        "f_kup2",
        "f_klow",
        "f_klow2",
        "f_ksft",
        "f_ksft2",
    ]
    for kind in ("roc", "std", "max", "min", "qtlu", "qtld", "tsrank", "rsv"):
        names += [f"f_{kind}_{w}" for w in WINDOWS]
    names += [f"f_vratio_{w}" for w in VOLUME_WINDOWS]
    names += [f"f_tratio_{w}" for w in TURNOVER_WINDOWS]
    names += ["f_log_turnover_20", "f_traded_share_20", "f_days_since_trade"]
    names += ["f_mkt_ret", "f_sector_ret", "f_sector"]
    names += [f"f_rank_{n}" for n in RANKED]
    return tuple(names)


@dataclass(frozen=True)
class FeatureSpec:
    """What a model was trained on: feature names in order, categoricals, sectors, lookback."""

    version: str
    names: tuple[str, ...]
    categorical: tuple[str, ...] = ("f_sector",)
    sectors: tuple[str, ...] = NEPSE_SECTORS
    lookback_days: int = 750
    """Market trading days (~3 years) of history that reproduce the last day's features within
    1e-9 for symbols that traded on at least ~2/3 of them: RSI's Wilder EMA (in 0..100 units)
    needs ~450 of the symbol's own rows to forget its start, MACD ~350
    (tests/unit/features/test_features.py::test_lookback_reproduces_the_last_day measures it)."""
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The spec as JSON (stored next to a model)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """The spec back from `to_json`."""
        data = json.loads(text)
        for key in ("names", "categorical", "sectors"):
            data[key] = tuple(data[key])
        return cls(**data)


ALL_FEATURES = _feature_names()

# The model's features: the original design's, plus the Alpha158-style windows, candles, liquidity
# and cross-sectional features that carried signal in a validation walk-forward over 2016-2018
# (data before the evaluation's test days; docs/model.md). Near-duplicates of these (other window
# lengths, *_2 candle ratios, std/qtlu windows, more ranks) added nothing there and cost time
# in every retraining. Any subset of ALL_FEATURES works; BASE_FEATURES stay first.
MODEL_FEATURES: tuple[str, ...] = (
    *BASE_FEATURES,
    "f_roc_5",
    "f_roc_20",
    "f_min_5",
    "f_min_10",
    "f_min_20",
    "f_max_5",
    "f_max_20",
    "f_qtld_5",
    "f_qtlu_10",
    "f_rsv_5",
    "f_rsv_10",
    "f_tsrank_5",
    "f_tsrank_10",
    "f_kmid",
    "f_ksft",
    "f_klow",
    "f_kup",
    "f_vratio_5",
    "f_vratio_20",
    "f_log_turnover_20",
    "f_traded_share_20",
    "f_days_since_trade",
    "f_mkt_ret",
    "f_sector_ret",
    "f_sector",
    "f_rank_ret_1",
    "f_rank_roc_5",
    "f_rank_log_turnover_20",
)

FEATURE_SPEC = FeatureSpec(version="2026.11.1", names=MODEL_FEATURES)
FULL_SPEC = FeatureSpec(version="2026.11.1-all", names=ALL_FEATURES)
