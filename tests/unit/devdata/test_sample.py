"""The synthetic NEPSE market: determinism, calendar, limits, actions, file formats, bad rows."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse import schema
from nepse.devdata import sample
from nepse.market.rules import market_rules
from tests.conftest import REPO, shared_data

SMALL = {"symbols": 30, "years": 1.5, "seed": 7}


@pytest.fixture(scope="module")
def market() -> sample.SampleMarket:
    """The default market (250 equities x 6 years), built once."""
    return sample.generate_market()


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, sample.SampleSummary, sample.SampleMarket]:
    out = tmp_path_factory.mktemp("sample")
    return out, sample.write_sample(out, **SMALL), sample.generate_market(**SMALL)


def _equity_prices(m: sample.SampleMarket) -> pl.DataFrame:
    equities = m.securities.filter(pl.col("instrument_type") == schema.EQUITY)
    return m.prices.join(equities.select("symbol"), on="symbol").sort("symbol", "date")


def _action_rows(m: sample.SampleMarket) -> pl.DataFrame:
    """The first traded row on/after each bonus/rights ex-date, with the previous close."""
    prices = m.prices.sort("symbol", "date").with_columns(
        prev_close=pl.col("close").shift(1).over("symbol"),
        prev_date=pl.col("date").shift(1).over("symbol"),
    )
    return (
        m.actions.filter(pl.col("kind") != "cash")
        .sort("book_closure_date")
        .join_asof(
            prices.sort("date"),
            left_on="book_closure_date",
            right_on="date",
            by="symbol",
            strategy="forward",
            check_sortedness=False,  # sorted by date; polars cannot check that within groups
        )
        .filter(pl.col("date").is_not_null())
        .with_columns(n_on_row=pl.len().over("symbol", "date"))
    )


def _with_moves(m: sample.SampleMarket) -> pl.DataFrame:
    acted = _action_rows(m).select("symbol", "date").unique().with_columns(action=pl.lit(True))
    return (
        m.prices.sort("symbol", "date")
        .with_columns(
            ret=pl.col("close") / pl.col("close").shift(1).over("symbol") - 1,
            limit=market_rules().price_limit_expr(),
        )
        .join(acted, on=["symbol", "date"], how="left")
        .with_columns(pl.col("action").fill_null(False))
    )


def _hash_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


# --- determinism and speed-independent structure --------------------------------------------


def test_same_arguments_write_byte_identical_files(tmp_path):
    a = sample.write_sample(tmp_path / "a", symbols=12, years=1.0, seed=3)
    b = sample.write_sample(tmp_path / "b", symbols=12, years=1.0, seed=3)
    c = sample.write_sample(tmp_path / "c", symbols=12, years=1.0, seed=4)
    ha, hb, hc = (_hash_tree(tmp_path / x) for x in "abc")
    assert a.rows == b.rows
    assert sum(k.endswith("prices.csv") for k in ha) >= 12
    assert ha == hb
    assert ha["CompanyList.csv"] != hc["CompanyList.csv"]
    assert c.rows != a.rows or ha != hc


@pytest.mark.slow  # a second interpreter writes the sample (tests/conftest.py)
def test_files_do_not_depend_on_the_process(tmp_path):
    """Byte-identical across interpreter runs too (string hashing is randomised per process)."""
    here = sample.write_sample(tmp_path / "here", symbols=8, years=0.5, seed=5)
    code = (
        "import sys; from pathlib import Path; from nepse.devdata import sample; "
        "sample.write_sample(Path(sys.argv[1]), symbols=8, years=0.5, seed=5)"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "there")], check=True, env=env, cwd=REPO
    )
    assert here.rows > 0
    assert _hash_tree(tmp_path / "here") == _hash_tree(tmp_path / "there")


def test_panel_is_the_market_price_process_and_chunking_does_not_matter():
    m = sample.generate_market(**SMALL)
    panel = sample.generate_panel(**SMALL)
    assert_frame_equal(panel, _equity_prices(m))
    chunked = pl.concat(list(sample.iter_panel(**SMALL, chunk_symbols=7)))
    assert_frame_equal(chunked, panel)
    assert panel.schema == pl.Schema(schema.PRICE_COLUMNS)


@pytest.mark.parametrize("bad", [{"symbols": 0}, {"years": 0.0}, {"years": -1.0}])
def test_bad_arguments_are_refused(bad):
    with pytest.raises(ValueError):
        sample.generate_panel(**{**SMALL, **bad})


# --- calendar --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "week"),
    [
        (date(2022, 1, 1), date(2022, 5, 14), {"Sun", "Mon", "Tue", "Wed", "Thu"}),
        (date(2022, 5, 15), date(2022, 6, 14), {"Mon", "Tue", "Wed", "Thu", "Fri"}),
        (date(2022, 6, 15), date(2022, 9, 17), {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri"}),
        (date(2022, 9, 18), date(2026, 4, 9), {"Sun", "Mon", "Tue", "Wed", "Thu"}),
        (date(2026, 4, 10), date(2026, 11, 20), {"Mon", "Tue", "Wed", "Thu", "Fri"}),
    ],
)
def test_calendar_follows_the_trading_week_of_the_market_rules(start, end, week):
    days = sample.trading_days(start, end)
    assert {d.strftime("%a") for d in days} == week
    assert all(d.weekday() in market_rules().trading_weekdays(d) for d in days)


def test_calendar_switches_to_monday_to_friday_on_2026_04_10():
    days = sample.trading_days(date(2026, 4, 1), date(2026, 4, 20))
    assert date(2026, 4, 10) in days  # a Friday, the first of the new week
    assert date(2026, 4, 9) in days and date(2026, 4, 12) not in days  # Thursday; Sunday


@pytest.mark.parametrize(
    "closed",
    [date(2025, 9, 8), date(2025, 9, 14), date(2025, 9, 18), date(2026, 5, 28), date(2025, 10, 2)],
)
def test_calendar_has_market_wide_closures(closed):
    assert closed.weekday() in market_rules().trading_weekdays(closed)  # closed all the same
    assert not sample.is_trading_day(closed)


def test_prices_fall_only_on_calendar_days(market):
    assert set(market.prices.get_column("date").unique().to_list()) == set(market.calendar)
    assert market.calendar[-1] == date(2026, 11, 20)
    assert 1350 < len(market.calendar) < 1500  # ~235 trading days a year


# --- universe --------------------------------------------------------------------------------


def test_universe_has_250_equities_over_the_real_sectors(market):
    sec = market.securities
    equities = sec.filter(pl.col("instrument_type") == schema.EQUITY)
    assert equities.height == 250
    assert set(equities.get_column("sector")) == set(sample.SECTOR_NAMES)
    assert len(sample.SECTOR_NAMES) == 12
    symbols = sec.get_column("symbol").to_list()
    assert len(symbols) == len(set(symbols))
    assert all(re.fullmatch(r"[A-Z][A-Z0-9]{1,9}", s) for s in symbols)
    assert {"Non-Convertible Debentures", "Mutual Funds"} <= set(sec.get_column("instrument_type"))
    assert set(sec.get_column("status")) == {"A", "S"}


def test_price_levels_look_like_nepse(market):
    firsts = (
        _equity_prices(market)
        .group_by("symbol")
        .agg(first=pl.col("close").first(), median=pl.col("close").median())
    )
    assert firsts.get_column("first").min() >= 100 * 0.9
    assert firsts.get_column("first").max() <= 3000 * 1.1
    in_range = firsts.filter(pl.col("median").is_between(100, 3000)).height
    assert in_range >= 0.9 * firsts.height


def test_thin_stocks_miss_days_and_liquid_ones_do_not(market):
    counts = _equity_prices(market).group_by("symbol").len().get_column("len")
    n_days = len(market.calendar)
    assert counts.max() == n_days
    assert (counts == n_days).sum() > 100  # the liquid half trades every day
    assert (counts < 0.7 * n_days).sum() >= 10  # thin names: no row when they do not trade
    suspended = market.securities.filter(pl.col("status") == "S").get_column("symbol")
    last = market.prices.filter(pl.col("symbol").is_in(suspended.to_list()))
    assert last.get_column("date").max() < market.calendar[-50]


# --- price process ---------------------------------------------------------------------------


def test_prices_are_on_tick_and_ohlc_is_consistent(market):
    p = market.prices
    for col in ("open", "high", "low", "close"):
        ticks = p.get_column(col).to_numpy() * 10
        assert np.abs(ticks - np.rint(ticks)).max() < 1e-6, col
    assert p.filter(pl.col("low") <= 0).height == 0
    bad = p.filter(
        (pl.col("high") < pl.max_horizontal("open", "close"))
        | (pl.col("low") > pl.min_horizontal("open", "close"))
    )
    assert bad.height == 0
    assert p.filter(pl.col("volume") < 1).height == 0
    vwap = p.get_column("turnover") / p.get_column("volume")
    assert ((vwap >= p.get_column("low") - 0.1) & (vwap <= p.get_column("high") + 0.1)).all()


def test_moves_stay_within_the_price_limit_except_on_action_days(market):
    moves = _with_moves(market).filter(pl.col("ret").is_not_null())
    normal = moves.filter(~pl.col("action"))
    assert normal.filter(pl.col("ret").abs() > pl.col("limit") + 1e-9).height == 0
    # the limit binds sometimes (a capped market), and both regimes are present
    assert normal.filter(pl.col("ret").abs() > pl.col("limit") - 0.006).height > 100
    wide = normal.filter(pl.col("date") >= market_rules().changes("price_limit")[-1])
    assert wide.filter(pl.col("ret").abs() > 0.101).height > 0
    # action days carry the big drops that are not returns
    assert moves.filter(pl.col("action") & (pl.col("ret") < -0.12)).height > 20


def test_bonus_and_rights_drops_match_nepse_formulas(market):
    rows = _action_rows(market).filter(
        (pl.col("n_on_row") == 1) & pl.col("prev_close").is_not_null()
    )
    pct = pl.col("percent") / 100
    expected = (
        pl.when(pl.col("kind") == "bonus")
        .then(pl.col("prev_close") / (1 + pct))
        .otherwise((pl.col("prev_close") + pl.col("issue_price") * pct) / (1 + pct))
    )
    checked = rows.with_columns(expected=expected, err=(pl.col("open") - expected).abs())
    assert checked.filter(pl.col("kind") == "bonus").height > 100
    assert checked.filter(pl.col("kind") == "rights").height > 20
    assert checked.get_column("err").max() <= 0.05 + 1e-9  # within tick rounding
    limit = market_rules().price_limit_expr()
    day_move = (pl.col("close") / pl.col("open") - 1).abs()
    assert checked.filter(day_move > limit + 1e-9).height == 0


def test_cash_dividends_do_not_move_the_price(market):
    cash_days = market.actions.filter(pl.col("kind") == "cash").join(
        market.actions.filter(pl.col("kind") != "cash").select("symbol", "book_closure_date"),
        on=["symbol", "book_closure_date"],
        how="anti",
    )
    moves = _with_moves(market).join(
        cash_days.select("symbol", date="book_closure_date"), on=["symbol", "date"]
    )
    assert moves.height > 100
    assert moves.filter(pl.col("ret").abs() > pl.col("limit") + 1e-9).height == 0


def test_returns_have_fat_tails_and_volatility_clustering(market):
    moves = _with_moves(market).filter(pl.col("ret").is_not_null() & ~pl.col("action"))
    r = moves.get_column("ret").to_numpy()
    kurtosis = ((r - r.mean()) ** 4).mean() / r.var() ** 2
    assert kurtosis > 4.5
    daily = moves.group_by("date").agg(pl.col("ret").mean()).sort("date")
    absr = np.abs(daily.get_column("ret").to_numpy())
    assert np.corrcoef(absr[1:], absr[:-1])[0, 1] > 0.1


def test_liquid_names_show_mild_short_term_reversal(market):
    n_days = len(market.calendar)
    full = _equity_prices(market).group_by("symbol").len().filter(pl.col("len") == n_days)
    moves = (
        _with_moves(market)
        .join(full.select("symbol"), on="symbol")
        .with_columns(prev=pl.col("ret").shift(1).over("symbol"))
        .filter(pl.col("prev").is_not_null() & ~pl.col("action"))
    )
    x, y = moves.get_column("prev").to_numpy(), moves.get_column("ret").to_numpy()
    slope = np.cov(x, y)[0, 1] / x.var()
    assert -0.15 < slope < -0.03


def test_sector_momentum_predicts_next_day_cross_section(market):
    moves = (
        _with_moves(market)
        .filter(pl.col("ret").is_not_null() & ~pl.col("action"))
        .join(market.securities.select("symbol", "sector"), on="symbol")
    )
    sector_day = (
        moves.group_by("sector", "date")
        .agg(sret=pl.col("ret").mean())
        .sort("date")
        .with_columns(mom=pl.col("sret").rolling_sum(sample.MOMENTUM_DAYS).shift(1).over("sector"))
    )
    df = (
        moves.join(sector_day, on=["sector", "date"])
        .filter(pl.col("mom").is_not_null())
        .with_columns(
            y=pl.col("ret") - pl.col("ret").mean().over("date"),
            x=pl.col("mom") - pl.col("mom").mean().over("date"),
        )
    )
    x, y = df.get_column("x").to_numpy(), df.get_column("y").to_numpy()
    assert np.cov(x, y)[0, 1] / x.var() > 0.01


# --- written files ---------------------------------------------------------------------------


def test_written_prices_parse_with_the_sharesansar_header(written):
    out, _, m = written
    bad_symbols = set(m.bad_rows.get_column("symbol"))
    clean = sorted(set(m.prices.get_column("symbol")) - bad_symbols)
    assert len(clean) >= 10
    for sym in clean[:10]:
        path = out / sym / "prices.csv"
        assert path.read_text().splitlines()[0] == sample.PRICES_HEADER
        got = (
            pl.read_csv(path, try_parse_dates=True)
            .rename({"ltp": "close", "qty": "volume"})
            .sort("date")
        )
        want = m.prices.filter(pl.col("symbol") == sym).sort("date")
        assert_frame_equal(
            got.select("date", "open", "high", "low", "close", "turnover"),
            want.select("date", "open", "high", "low", "close", "turnover"),
        )
        assert got.get_column("volume").cast(pl.Float64).equals(want.get_column("volume"))
        pct = got.get_column("percent_change").to_numpy()[1:]
        ref = (got.get_column("close").pct_change() * 100).round(2).to_numpy()[1:]
        assert np.allclose(pct, ref, atol=0.006)


def test_prices_files_are_newest_first_then_appended_ascending(written):
    out, _, m = written
    sym = m.prices.group_by("symbol").len().sort("len", "symbol").get_column("symbol")[-1]
    assert sym not in set(m.bad_rows.get_column("symbol"))
    dates = [ln.split(",")[0] for ln in (out / sym / "prices.csv").read_text().splitlines()[1:]]
    turn = next(i for i in range(1, len(dates)) if dates[i] > dates[i - 1])
    assert dates[:turn] == sorted(dates[:turn], reverse=True)
    assert dates[turn:] == sorted(dates[turn:])
    assert len(dates[turn:]) == sample.APPENDED_DAYS
    assert dates[turn:][-1] == str(m.calendar[-1])


def test_bad_rows_are_written_at_their_lines(written):
    out, summary, m = written
    bad = m.bad_rows
    assert set(bad.get_column("kind")) == set(sample.BAD_KINDS)
    assert summary.bad_rows == dict.fromkeys(sorted(sample.BAD_KINDS), 1)
    for row in bad.iter_rows(named=True):
        lines = (out / row["file"]).read_text().splitlines()
        assert lines[row["line"] - 1] == row["raw"], row["kind"]
        fields = row["raw"].split(",")
        kind = row["kind"]
        if kind == "zero_close":
            assert fields[4] == "0.0"
        elif kind == "high_below_low":
            assert float(fields[2]) < float(fields[3])
        elif kind == "exact_duplicate":
            assert lines[row["line"] - 2] == row["raw"]
        elif kind == "conflicting_duplicate":
            prev = lines[row["line"] - 2].split(",")
            assert prev[0] == fields[0] and prev[4] != fields[4]
        elif kind == "unparseable_date":
            assert not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])", fields[0])
        elif kind == "thousands_separator":
            assert re.search(r',"\d{1,3}(,\d{3})+","[\d,]+\.\d"$', row["raw"])
        elif kind == "dash_open":
            assert fields[1] == "-"
        elif kind == "dash_close":
            assert fields[4] == "-"
        assert row["expect"] in {*schema.REASONS, "keep", "dedupe"}


def test_quoted_thousands_parse_to_the_true_values(written):
    out, _, m = written
    row = m.bad_rows.filter(pl.col("kind") == "thousands_separator").row(0, named=True)
    parsed = pl.read_csv(out / row["file"], infer_schema=False).filter(
        pl.col("date") == str(row["date"])
    )
    true = m.prices.filter((pl.col("symbol") == row["symbol"]) & (pl.col("date") == row["date"]))
    assert float(parsed.get_column("qty")[0].replace(",", "")) == true.get_column("volume")[0]
    assert float(parsed.get_column("turnover")[0].replace(",", "")) == true["turnover"][0]


def test_row_counts_add_up(written):
    out, summary, m = written
    files = sorted(out.glob("*/prices.csv"))
    lines = sum(len(p.read_text().splitlines()) - 1 for p in files)
    inserted = {"conflicting_duplicate", "exact_duplicate", "unparseable_date"}
    assert summary.rows == lines
    assert lines == m.prices.height + len(inserted)
    assert summary.symbols == len(files) == m.securities.height
    assert summary.first_date == m.prices.get_column("date").min()
    assert summary.last_date == date(2026, 11, 20)
    assert (out / "README.md").read_text().lower().count("synthetic") >= 1


def test_company_list_has_the_api_header_and_non_equities(written):
    out, _, m = written
    text = (out / "CompanyList.csv").read_text()
    assert text.splitlines()[0] == sample.COMPANY_HEADER
    df = pl.read_csv(out / "CompanyList.csv", infer_schema=False)
    assert df.height == m.securities.height
    kinds = set(df.get_column("instrumentType"))
    assert schema.EQUITY in kinds and {"Non-Convertible Debentures", "Mutual Funds"} & kinds
    assert set(df.get_column("status")) <= {"A", "S"}
    assert set(df.get_column("source_endpoint")) == {"CompanyList"}
    assert df.get_column("id").cast(pl.Int64).n_unique() == df.height


def test_dividend_files_match_the_actions(written):
    out, _, m = written
    files = sorted(out.glob("*/dividend.csv"))
    assert files
    rows = pl.concat(
        [
            pl.read_csv(p, infer_schema=False).with_columns(symbol=pl.lit(p.parent.name))
            for p in files
        ]
    )
    assert files[0].read_text().splitlines()[0] == sample.DIVIDEND_HEADER
    assert rows.get_column("fiscal_year").str.contains(r"^\d{4}/\d{4}$").all()
    assert rows.get_column("book_closure_date").str.contains(r"^\d{4}-\d{2}-\d{2}").all()
    closed = rows.get_column("book_closure_date").str.ends_with(" [Closed]")
    assert closed.sum() >= rows.height - 5
    parsed = rows.with_columns(
        day=pl.col("book_closure_date").str.slice(0, 10).str.to_date(),
        bonus=pl.col("bonus_share").cast(pl.Float64).fill_null(0.0),
    )
    bonus = m.actions.filter(pl.col("kind") == "bonus")
    joined = parsed.filter(pl.col("bonus") > 0).join(
        bonus, left_on=["symbol", "day"], right_on=["symbol", "book_closure_date"]
    )
    assert joined.height == bonus.height > 0
    assert (joined.get_column("bonus") == joined.get_column("percent")).all()


def test_rights_files_hide_the_ex_date_like_the_real_ones(written):
    out, _, m = written
    rights = m.actions.filter(pl.col("kind") == "rights")
    assert rights.height > 0
    cal = m.calendar
    for r in rights.iter_rows(named=True):
        path = out / r["symbol"] / "right-share.csv"
        df = pl.read_csv(path, infer_schema=False)
        assert path.read_text().splitlines()[0] == sample.RIGHTS_HEADER
        row = df.filter(pl.col("ratio") == r["ratio"]).row(0, named=True)
        held, right = (float(x) for x in row["ratio"].replace(" ", "").split(":"))
        assert right / held * 100 == pytest.approx(r["percent"], abs=0.01)
        opening = date.fromisoformat(row["opening_date"])
        gap = sum(1 for d in sample.trading_days(r["book_closure_date"], opening)) - 1
        assert 7 <= gap <= 15
        assert float(row["issue_price"]) == r["issue_price"]
        assert cal[0] <= r["book_closure_date"] <= cal[-1]


@pytest.mark.parametrize(
    ("pct", "style", "text"),
    [(100, 0, "1:1"), (100, 1, "1: 1"), (80, 3, "10:8"), (80, 2, "1:0.80"), (50, 4, "2:1")],
)
def test_rights_ratio_styles(pct, style, text):
    assert sample._ratio_text(pct, style) == text


@pytest.mark.parametrize(
    ("day", "fy"),
    [
        (date(2025, 7, 15), "2081/2082"),
        (date(2025, 7, 16), "2082/2083"),
        (date(2026, 1, 1), "2082/2083"),
    ],
)
def test_fiscal_year(day, fy):
    assert sample.fiscal_year(day) == fy


# --- the real files, to keep the formats honest --------------------------------------------


@pytest.mark.realdata
def test_headers_match_the_real_files():
    root = shared_data("sharesansar-company-wise")
    assert (root / "NABIL" / "prices.csv").read_text().splitlines()[0] == sample.PRICES_HEADER
    assert (root / "NABIL" / "dividend.csv").read_text().splitlines()[0] == sample.DIVIDEND_HEADER
    assert (root / "NICA" / "right-share.csv").read_text().splitlines()[0] == sample.RIGHTS_HEADER
    company = shared_data("nepse-api-2025-08-30", "CompanyList.csv")
    assert company.read_text().splitlines()[0] == sample.COMPANY_HEADER
    real = pl.read_csv(company, infer_schema=False)
    equity_sectors = real.filter(pl.col("instrumentType") == schema.EQUITY)
    assert set(sample.SECTOR_NAMES) == set(equity_sectors.get_column("sectorName"))
