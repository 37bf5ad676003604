"""What people read says what is predicted, in one phrase, and links only what a browser opens."""

from __future__ import annotations

import ast
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from nepse.app import texts
from nepse.features.labels import label_words, predicted_return_text
from nepse.ingest.gate import GateResult
from nepse.model.scoring import Pick, ScoredDay
from nepse.monitoring.performance import MonitorVerdict
from tests.conftest import REPO

DAY = date(2026, 4, 2)
DEFAULT = label_words("next_vwap", 5)  # NEPSE_LABEL, NEPSE_LABEL_HOLD
METRICS = ("rank_ic", "rank_icir", "ic", "icir", "rmse", "mae", "dir_acc", "top_bottom")
METRICS += ("top_bottom_net", "top_bottom_t", "coverage")


def _scored(tmp_path: Path) -> ScoredDay:
    preds = tmp_path / "predictions" / f"{DAY}.parquet"
    preds.parent.mkdir(parents=True)
    pl.DataFrame(
        {
            "symbol": ["AAA", "BBB"],
            "pred_ret": [0.012, -0.004],
            "pred_rank": [1.0, 0.5],
            "model_version": ["naive-reversal-1d"] * 2,
        }
    ).write_parquet(preds)
    pick = Pick("AAA", 0.012, 1.0)
    return ScoredDay(
        DAY, "naive-reversal-1d", "champion", (), 2, preds, preds, preds, (pick,), (pick,)
    )


def _gate() -> GateResult:
    return GateResult(DAY, 2, 0, 0.0, 2, 0, 0, 2, True, "ok")


def _texts(settings, tmp_path):
    index = settings.data_dir / "reports" / "index.html"
    verdict = MonitorVerdict(None, None, None, None, ())
    return texts.daily_texts(settings, _scored(tmp_path), _gate(), None, verdict, index), index


def test_every_text_of_a_daily_run_says_what_is_predicted(settings, tmp_path):
    shown, _ = _texts(settings, tmp_path)
    sentence = predicted_return_text("next_vwap", 5)
    assert sentence in shown.markdown and sentence in shown.table_description
    assert "close-to-close" not in shown.markdown
    assert set(shown.table[0]) == {"symbol", texts.PREDICTED, texts.RANK, "model"}


def test_without_a_reports_server_paths_are_text_not_file_links(settings, tmp_path):
    shown, index = _texts(settings, tmp_path)
    assert shown.links == () and "file://" not in shown.markdown
    assert f"`{index.resolve()}`" in shown.markdown


def test_with_a_reports_server_every_link_opens_there(settings, tmp_path):
    served = settings.model_copy(update={"reports_base_url": "http://reports:8765/"})
    shown, _ = _texts(served, tmp_path)
    assert [(link.key, link.url) for link in shown.links] == [
        ("report-index", "http://reports:8765/index.html")
    ]
    assert "[all days](http://reports:8765/index.html)" in shown.markdown
    assert texts.report_url(served, tmp_path / "elsewhere.html") is None


def test_a_model_cards_links_become_absolute_or_plain(settings, tmp_path):
    from nepse.app.publish import publish_model_reports

    folder = tmp_path / "models" / "v1"
    folder.mkdir(parents=True)
    (folder / "evaluation.html").write_text("<html>evaluation</html>")
    card = "see [evaluation.html](evaluation.html) and [trading.html](trading.html)"
    pages = publish_model_reports(settings, folder)
    assert set(pages) == {"evaluation.html"}  # no backtest page was drawn
    assert pages["evaluation.html"].read_text() == "<html>evaluation</html>"
    assert pages["evaluation.html"].parent == settings.data_dir / "reports" / "models" / "v1"
    served = settings.model_copy(update={"reports_base_url": "http://reports:8765"})
    out = texts.card_markdown(served, card, folder, pages)
    assert "[evaluation.html](http://reports:8765/models/v1/evaluation.html)" in out
    assert f"`{folder / 'trading.html'}`" in out and "(trading.html)" not in out
    plain = texts.card_markdown(settings, card, folder, pages)
    assert "](" not in plain  # no relative link: the Prefect UI would open a dead route


@pytest.mark.parametrize(
    "path",
    ["README.md", "nepse/model/card.py", "flows/daily.py", "nepse/app/texts.py"],
)
def test_no_text_still_calls_the_prediction_a_next_day_close_to_close_return(path):
    text = (REPO / path).read_text(encoding="utf-8")
    assert "next trading day's adjusted close-to-close" not in text
    assert "next-trading-day return" not in text and "next-day return" not in text


def test_the_readme_the_index_and_the_card_use_the_same_words(settings):
    from nepse.model.card import model_card
    from nepse.monitoring.reports import build_index

    assert DEFAULT in " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    index = build_index(settings.data_dir, [], predicted=predicted_return_text("next_vwap", 5))
    assert DEFAULT in index.read_text(encoding="utf-8")

    row = {"model": "lightgbm", **dict.fromkeys(METRICS, 0.02), "rmse": 0.051}
    result = SimpleNamespace(  # the parts of a walk-forward result the card reads
        info={},
        summary=pl.DataFrame([row]),
        importance=pl.DataFrame({"feature": ["f_ret_1"], "share": [1.0]}),
        summary_dict=lambda: {"lightgbm": row},
    )
    card = model_card({"label": {"name": "next_vwap", "hold": 5}}, result)
    assert DEFAULT in card
    assert "walk-forward out-of-sample RMSE 0.0510" in card and "the training RMSE" not in card


def test_the_daily_flow_describes_its_source_parameter_truthfully():
    tree = ast.parse((REPO / "flows" / "daily.py").read_text(encoding="utf-8"))
    (func,) = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "daily_predictions"
    ]
    doc = ast.get_docstring(func)
    assert "nepalstock.com" in doc and "ShareSansar" in doc and "today-price API" not in doc
    assert DEFAULT in " ".join(doc.split())
