"""Model card: a short, honest markdown page saved next to every registered model."""

from __future__ import annotations

from typing import Any

from nepse.features.labels import predicted_return_text
from nepse.model.walkforward import MODEL, WalkForwardResult

_COLUMNS = (
    ("rank_ic", "Rank IC"),
    ("rank_icir", "Rank ICIR"),
    ("ic", "IC"),
    ("icir", "ICIR"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
    ("dir_acc", "Dir. acc."),
    ("top_bottom", "Top-bottom (gross)"),
    ("top_bottom_net", "Top-bottom (net)"),
    ("top_bottom_t", "t (gross)"),
    ("coverage", "Coverage"),
)


def _fmt(value: Any, std: Any = None) -> str:
    if value is None:
        return "undefined"
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    if isinstance(std, float):
        text += f" ± {std:.4f}"
    return text


def metrics_table(wf_result: WalkForwardResult) -> str:
    """The walk-forward summary as a markdown table (LightGBM first, mean ± std over seeds)."""
    head = "| model | " + " | ".join(label for _, label in _COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(_COLUMNS)
    lines = [head, rule]
    for row in wf_result.summary.to_dicts():
        cells = [_fmt(row[key], row.get(f"{key}_std")) for key, _ in _COLUMNS]
        lines.append(f"| {row['model']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def model_card(meta: dict[str, Any], wf_result: WalkForwardResult) -> str:
    """Markdown model card: use, data window, features, walk-forward vs baselines, limits."""
    info = wf_result.info
    summary = wf_result.summary_dict()
    lgbm = summary.get(MODEL, {})
    beaten = [
        name
        for name, row in summary.items()
        if name != MODEL
        and row.get("rank_ic") is not None
        and lgbm.get("rank_ic") is not None
        and lgbm["rank_ic"] > row["rank_ic"]
    ]
    features = meta.get("feature_names", [])
    top = wf_result.importance.head(10).to_dicts()
    fspec = meta.get("feature_spec") or {}
    seconds = info.get("seconds", {})
    lines = [
        f"# Model card — {meta.get('version', 'unregistered model')}",
        "",
        "## Intended use",
        "",
        f"Ranks NEPSE equities by their predicted return (`pred_ret`), made after the close "
        f"of day t. {predicted_return_text(*_label(meta))}. Use it as one "
        "input to research, not as trading advice: it is not a price target, it has no view "
        "on risk or liquidity, and NEPSE does not allow short selling, so the top-minus-bottom "
        "spread below measures ranking quality, not a tradable profit.",
        "",
        "## Label and backtest",
        "",
        *_label_section(meta, info),
        "",
        "## Data and training window",
        "",
        f"- As of: {meta.get('as_of')}; training rows dated {meta.get('train_start')} .. "
        f"{meta.get('train_end')} (labels known by the as-of day).",
        f"- Fit slice up to {meta.get('fit_end')}, early-stopping slice from "
        f"{meta.get('valid_start')} ({meta.get('n_fit')} + {meta.get('n_valid')} rows, "
        f"{meta.get('n_symbols')} symbols); {meta.get('best_iteration')} boosting rounds kept.",
        f"- Training RMSE {_fmt(meta.get('train_rmse'))}, validation RMSE "
        f"{_fmt(meta.get('valid_rmse'))} (in sample: the fit and early-stopping slices). The "
        "daily monitor compares the realised RMSE with the walk-forward out-of-sample RMSE "
        f"{_fmt(lgbm.get('rmse'))} (the LightGBM row's RMSE below, on the same label) and "
        f"alerts above {meta.get('rmse_alert_ratio', 1.5)}× it once NEPSE_RMSE_ALERT_MIN_DAYS "
        "out-of-sample days are evaluated.",
        f"- Data fingerprint `{meta.get('data_fingerprint', '')[:16]}`; seed {meta.get('seed')}; "
        f"libraries {meta.get('library_versions')}.",
        "",
        "## Features",
        "",
        f"{len(features)} features (spec version {fspec.get('version', 'n/a')}), categorical: "
        f"{', '.join(meta.get('categorical', [])) or 'none'}. Top 10 by walk-forward gain share:",
        "",
        "| feature | gain share |",
        "|---|---:|",
        *[f"| `{r['feature']}` | {r['share']:.3f} |" for r in top],
        "",
        "## Walk-forward evaluation (out of sample)",
        "",
        f"Test days {info.get('test_start')} .. {info.get('test_end')} in {info.get('n_blocks')} "
        f"blocks, retrained every {info.get('retrain_every')} trading days "
        f"({info.get('walk_forward_window')} window, embargo {info.get('horizon')} trading "
        "session(s): the sessions the label reaches after its day, "
        f"early stopping on the last {info.get('valid_days')} days of each window), "
        f"LightGBM seeds {info.get('seeds')} (mean ± std). Baselines are scored on exactly the "
        f"same rows. Net spread assumes {info.get('cost_bps')} bps per round trip on both legs, "
        "full daily turnover.",
        "",
        metrics_table(wf_result),
        "",
        f"LightGBM beats on Rank IC: {', '.join(beaten) or 'no baseline'}. "
        f"Baseline shortcuts: {info.get('baseline_notes', {})}. "
        f"Run time {seconds.get('total')} s.",
        "",
        "## Limitations",
        "",
        "- Daily stock returns are mostly noise: a Rank IC of a few hundredths is typical of a "
        "useful signal, and single-day predictions are usually wrong in size and often in sign.",
        "- All metrics above are out of sample, but they are one history; the future market "
        "(calendar changes, price-limit changes, regime shifts) can differ.",
        "- The net spread is before market impact; thin NEPSE stocks may not trade at the close.",
        "- Prices are adjusted for bonus and rights issues only as far as the corporate-action "
        "data covers them; a missed action looks like a large return.",
        "- Models registered from synthetic or sample data (tests, demos) say nothing about the "
        "real market.",
        "",
    ]
    return "\n".join(lines)


def _label(meta: dict[str, Any]) -> tuple[str, int]:
    label = meta.get("label") or {"name": "close_to_close", "hold": meta.get("horizon", 1)}
    return label["name"], int(label["hold"])


def _label_section(meta: dict[str, Any], info: dict[str, Any]) -> list[str]:
    """Which label the model was trained, evaluated and promoted on, and the NEPSE backtest."""
    label = meta.get("label") or {"name": "close_to_close", "hold": meta.get("horizon", 1)}
    what = {
        "next_vwap": "buy at the VWAP of session t+1, sell at the VWAP of session t+1+h",
        "next_close": "buy at the close of session t+1, sell at the close of session t+1+h "
        "(Qlib's label)",
        "close_to_close": "close(t) to close(t+h): not tradeable, it enters at a price gone "
        "when the prediction is made",
    }.get(label["name"], label["name"])
    excess = info.get("backtest_net_excess") or {}
    lines = [
        f"- Label: `{label['name']}`, h = {label['hold']} sessions: {what} "
        "(nepse/features/labels.py; NEPSE_LABEL, NEPSE_LABEL_HOLD). Training, the walk-forward "
        "below and promotion all use it.",
        "- Pictures: walk-forward spreads and Rank IC in [evaluation.html](evaluation.html); "
        "the NEPSE backtest (cumulative return with and without costs vs the universe, excess, "
        "drawdown, daily and monthly Rank IC, quintile returns, score autocorrelation) in "
        "[trading.html](trading.html) when the training had market data; "
        "`nepse evaluate --from D --to D --report FILE` draws them for any stored days.",
    ]
    if excess:
        shown = ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(excess.items()))
        lines.append(
            "- NEPSE backtest (nepse/model/backtest.py; long-only top k; settlement, limit locks "
            f"and costs of nepse/market/rules.toml), net annual excess over the universe: {shown}."
        )
    else:
        lines.append("- No NEPSE backtest was run with this training (no market frame given).")
    return lines
