"""Unit tests of nepse.sources.readers on small files written into tmp_path."""

from __future__ import annotations

import logging
import os
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from nepse.errors import SourceError
from nepse.schema import CORPORATE_ACTION_SCHEMA, PRICE_COLUMNS, SECURITY_SCHEMA
from nepse.sources.readers import FORMATS, detect_format, read_path, symbol_from_path

SHARESANSAR = "date,open,high,low,ltp,percent_change,qty,turnover"
HISTORY = "published_date,open,high,low,close,per_change,traded_quantity,traded_amount,status"
LEGACY = (
    "S.N.,Date,Total Transactions,Total Traded Shares,Total Traded Amount,"
    "Max. Price,Min. Price,Close Price"
)
TODAY = (
    "Id,Business Date,Security Id,Symbol,Security Name,Open Price,High Price,Low Price,"
    "Close Price,Total Traded Quantity,Total Traded Value,Previous Day Close Price"
)
TODAY_EXTRA = (
    ",Fifty Two Week High,Fifty Two Week Low,Last Updated Price,Total Trades,"
    "Average Traded Price,Market Capitalization"
)
DIVIDEND = "fiscal_year,bonus_share,cash_dividend,total_dividend,book_closure_date"
RIGHTS = "ratio,total_units,issue_price,opening_date,closing_date,status,issue_manager"
COMPANIES = (
    "companyEmail,companyName,id,instrumentType,regulatoryBody,sectorName,securityName,"
    "status,symbol,website"
)
CANONICAL = "symbol,date,open,high,low,close,volume,turnover"


def write(path: Path, text: str, *, bom: bool = False, crlf: bool = False) -> Path:
    """Write `text` as UTF-8 bytes, optionally with a BOM and CRLF line ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if crlf:
        text = text.replace("\n", "\r\n")
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return path


def data_lines(path: Path) -> int:
    """Non-blank lines after the header, counted without the reader's code."""
    lines = [ln for ln in path.read_bytes().decode("utf-8-sig").splitlines() if ln.strip()]
    return len(lines) - 1


def prices_of(result) -> pl.DataFrame:
    return result.prices.select(list(PRICE_COLUMNS))


def expected_prices(rows: list[dict]) -> pl.DataFrame:
    full = [{c: row.get(c) for c in PRICE_COLUMNS} for row in rows]
    return pl.DataFrame(full, schema=PRICE_COLUMNS)


# --------------------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("header", "name"),
    [
        (SHARESANSAR, "sharesansar_prices"),
        (HISTORY, "sharesansar_price_history"),
        (LEGACY, "nepalstock_legacy"),
        (TODAY, "nepse_today_price"),
        (TODAY + TODAY_EXTRA, "nepse_today_price"),
        (DIVIDEND, "sharesansar_dividends"),
        (RIGHTS, "sharesansar_rights"),
        (COMPANIES, "nepse_company_list"),
        (CANONICAL, "canonical"),
        (CANONICAL + ",trades", "canonical"),
        (CANONICAL + ",trades,source,line,raw", "canonical"),
        # Spreadsheet re-saves change case and spacing, not meaning.
        (
            " Id , BUSINESS DATE,Security Id,Symbol,Security Name,Open Price,High Price,"
            "Low Price,Close Price,Total Traded Quantity,Total Traded Value,"
            "Previous Day Close Price",
            "nepse_today_price",
        ),
    ],
)
def test_detect_format_by_header(header, name):
    assert detect_format(header.split(",")) == name


def test_every_format_is_registered_with_its_header():
    assert set(FORMATS) == {
        "sharesansar_prices",
        "sharesansar_dividends",
        "sharesansar_rights",
        "sharesansar_price_history",
        "nepalstock_legacy",
        "nepse_today_price",
        "nepse_company_list",
        "canonical",
    }
    for name, fmt in FORMATS.items():
        assert fmt.name == name and fmt.header and fmt.description
        assert detect_format(list(fmt.header)) == name


def test_unknown_header_names_the_file_and_lists_formats(tmp_path):
    path = write(tmp_path / "ADBL.csv", "Datum,Schluss\n2024-01-02,100\n")
    with pytest.raises(SourceError) as info:
        read_path(path)
    message = str(info.value)
    assert str(path) in message
    assert "Datum,Schluss" in message
    for fmt in FORMATS.values():
        assert fmt.name in message
        assert ",".join(fmt.header) in message


@pytest.mark.parametrize(
    ("path", "symbol"),
    [
        ("data/ADBL/prices.csv", "ADBL"),
        ("data/adbl/dividend.csv", "ADBL"),
        ("data/ADBL/dividend2.csv", "ADBL"),
        ("data/ADBL/right-share.csv", "ADBL"),
        ("data/NABIL.csv", "NABIL"),
        ("data/NABIL_2000-01-01_2021-12-31.csv", "NABIL"),
        ("data/ADBLD83_2000-01-01_2021-12-31.csv", "ADBLD83"),
    ],
)
def test_symbol_from_path(path, symbol):
    assert symbol_from_path(Path(path)) == symbol


# --------------------------------------------------------------------------- price formats


def test_sharesansar_prices_bom_crlf_thousands_and_missing(tmp_path):
    path = write(
        tmp_path / "ADBL" / "prices.csv",
        f"{SHARESANSAR}\n"
        '2024-01-03, "1,234.50" ,1250,1200,1240.5,0.5,"12,000",-\n'
        "2024-01-02,1200,1210,1190,1200,0,500,600000\n"
        "\n"
        "\n",
        bom=True,
        crlf=True,
    )
    result = read_path(path)
    assert result.fmt == "sharesansar_prices"
    assert_frame_equal(
        prices_of(result),
        expected_prices(
            [
                {
                    "symbol": "ADBL",
                    "date": date(2024, 1, 3),
                    "open": 1234.5,
                    "high": 1250.0,
                    "low": 1200.0,
                    "close": 1240.5,
                    "volume": 12000.0,
                    "turnover": None,
                },
                {
                    "symbol": "ADBL",
                    "date": date(2024, 1, 2),
                    "open": 1200.0,
                    "high": 1210.0,
                    "low": 1190.0,
                    "close": 1200.0,
                    "volume": 500.0,
                    "turnover": 600000.0,
                },
            ]
        ),
    )
    assert result.prices["line"].to_list() == [2, 3]
    assert result.prices["raw"][0] == '2024-01-03, "1,234.50" ,1250,1200,1240.5,0.5,"12,000",-'
    assert result.prices["source"].unique().to_list() == [str(path)]
    assert result.rejects.height == 0
    assert result.rows_read == data_lines(path) == 2


def test_sharesansar_price_history_symbol_from_file_name(tmp_path):
    path = write(
        tmp_path / "NABIL.csv",
        f"{HISTORY}\n2024-01-02,500,510,495,505,1.0,1000,505000,1\n"
        "2024-01-03T00:00:00,505,506,500,500,-0.99,-,-,1\n",
    )
    result = read_path(path)
    assert result.fmt == "sharesansar_price_history"
    assert_frame_equal(
        prices_of(result),
        expected_prices(
            [
                {
                    "symbol": "NABIL",
                    "date": date(2024, 1, 2),
                    "open": 500.0,
                    "high": 510.0,
                    "low": 495.0,
                    "close": 505.0,
                    "volume": 1000.0,
                    "turnover": 505000.0,
                },
                {
                    "symbol": "NABIL",
                    "date": date(2024, 1, 3),
                    "open": 505.0,
                    "high": 506.0,
                    "low": 500.0,
                    "close": 500.0,
                },
            ]
        ),
    )


def test_legacy_nepalstock_has_no_open_and_counts_trades(tmp_path):
    path = write(
        tmp_path / "ADBL_2000-01-01_2021-12-31.csv",
        f"{LEGACY}\n1,2021-12-29,1013,200533.00,98526860.80,499.00,488.00,492.00\n"
        "2,2021-12-28,659,91046.00,44737396.50,498.00,488.00,494.00\n",
    )
    result = read_path(path)
    assert result.fmt == "nepalstock_legacy"
    assert_frame_equal(
        prices_of(result),
        expected_prices(
            [
                {
                    "symbol": "ADBL",
                    "date": date(2021, 12, 29),
                    "high": 499.0,
                    "low": 488.0,
                    "close": 492.0,
                    "volume": 200533.0,
                    "turnover": 98526860.8,
                    "trades": 1013,
                },
                {
                    "symbol": "ADBL",
                    "date": date(2021, 12, 28),
                    "high": 498.0,
                    "low": 488.0,
                    "close": 494.0,
                    "volume": 91046.0,
                    "turnover": 44737396.5,
                    "trades": 659,
                },
            ]
        ),
    )


def test_today_price_us_dates_symbol_from_data_and_optional_columns(tmp_path):
    path = write(
        tmp_path / "2024-01-02.csv",
        f"{TODAY}{TODAY_EXTRA}\n"
        "1,01/02/2024,131,nabil,Nabil Bank,500,510,495,505,1000,505000,500,600,400,505,12,505,1e9\n"
        '2,2024-01-02,397,ADBL,"Agricultural Development Bank, Ltd.",300,301,299,300,'
        '"1,500","450,000",299,,,,,,\n',
    )
    result = read_path(path)
    assert result.fmt == "nepse_today_price"
    assert_frame_equal(
        prices_of(result),
        expected_prices(
            [
                {
                    "symbol": "NABIL",
                    "date": date(2024, 1, 2),
                    "open": 500.0,
                    "high": 510.0,
                    "low": 495.0,
                    "close": 505.0,
                    "volume": 1000.0,
                    "turnover": 505000.0,
                    "trades": 12,
                },
                {
                    "symbol": "ADBL",
                    "date": date(2024, 1, 2),
                    "open": 300.0,
                    "high": 301.0,
                    "low": 299.0,
                    "close": 300.0,
                    "volume": 1500.0,
                    "turnover": 450000.0,
                },
            ]
        ),
    )


def test_us_dates_are_only_accepted_where_the_format_has_them(tmp_path):
    path = write(tmp_path / "ADBL" / "prices.csv", f"{SHARESANSAR}\n01/02/2024,1,1,1,1,0,1,1\n")
    result = read_path(path)
    assert result.prices.height == 0
    assert result.rejects["detail"].to_list() == ["date='01/02/2024' is not a date (YYYY-MM-DD)"]


@pytest.mark.parametrize("with_trades", [False, True])
def test_canonical_csv(tmp_path, with_trades):
    header = CANONICAL + (",trades" if with_trades else "")
    row = "ADBL,2024-01-02,300,301,299,300,1500,450000" + (",7" if with_trades else "")
    result = read_path(write(tmp_path / "prices.csv", f"{header}\n{row}\n"))
    assert result.fmt == "canonical"
    assert_frame_equal(
        prices_of(result),
        expected_prices(
            [
                {
                    "symbol": "ADBL",
                    "date": date(2024, 1, 2),
                    "open": 300.0,
                    "high": 301.0,
                    "low": 299.0,
                    "close": 300.0,
                    "volume": 1500.0,
                    "turnover": 450000.0,
                    "trades": 7 if with_trades else None,
                },
            ]
        ),
    )


def test_canonical_parquet_lines_and_raw(tmp_path):
    frame = pl.DataFrame(
        {
            "symbol": ["ADBL", "NABIL", ""],
            "date": [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 3)],
            "open": [300.0, None, 1.0],
            "high": [301.0, 510.0, 1.0],
            "low": [299.0, 495.0, 1.0],
            "close": [300.0, 505.0, 1.0],
            "volume": [1500.0, 1000.0, 1.0],
            "turnover": [450000.0, 505000.0, 1.0],
            "trades": [7, None, 1],
        }
    )
    path = tmp_path / "prices.parquet"
    frame.write_parquet(path)
    result = read_path(path)
    assert result.fmt == "canonical"
    assert_frame_equal(prices_of(result), frame.head(2).cast(PRICE_COLUMNS))
    assert result.prices["line"].to_list() == [2, 3]
    assert result.prices["raw"][0].startswith('{"symbol":"ADBL","date":"2024-01-02"')
    assert result.rejects.select("line", "reason").rows() == [(4, "missing_symbol")]
    assert result.rows_read == frame.height


# --------------------------------------------------------------------------- rejects


@pytest.mark.parametrize(
    ("row", "reason", "detail"),
    [
        ("2024-02-30,1,2,3,4,0,5,6", "unparseable", "date='2024-02-30' is not a date (YYYY-MM-DD)"),
        ("yesterday,1,2,3,4,0,5,6", "unparseable", "date='yesterday' is not a date (YYYY-MM-DD)"),
        ("-,1,2,3,4,0,5,6", "unparseable", "date is empty"),
        ("2024-01-02,1,2,3,abc,0,5,6", "unparseable", "close='abc' is not a number"),
        (
            "2024-01-02,x,2,3,4,0,5,nan",
            "unparseable",
            "open='x' is not a number; turnover='nan' is not a number",
        ),
        ("2024-01-02,1,2,3", "unparseable", "expected 8 fields, got 4"),
        ("2024-01-02,1,2,3,4,0,5,6,7", "unparseable", "expected 8 fields, got 9"),
        # An unbalanced quote does not swallow the rest of the line.
        ('2024-01-02,"1,2,3,4,0,5,6', "unparseable", "open='\"1' is not a number"),
    ],
)
def test_bad_row_goes_to_rejects_with_line_and_detail(tmp_path, row, reason, detail):
    path = write(
        tmp_path / "ADBL" / "prices.csv",
        f"{SHARESANSAR}\n2024-01-01,1,2,3,4,0,5,6\n\n{row}\n2024-01-03,1,2,3,4,0,5,6\n",
    )
    result = read_path(path)
    assert result.prices["line"].to_list() == [2, 5]
    assert result.rejects.drop("date").rows(named=True) == [
        {"source": str(path), "line": 4, "raw": row, "reason": reason, "detail": detail}
    ]
    assert result.rows_read == data_lines(path) == 3


def test_empty_symbol_is_missing_symbol(tmp_path):
    path = write(
        tmp_path / "today.csv",
        f"{TODAY}\n1,2024-01-02,1, ,X,1,2,3,4,5,6,7\n2,2024-01-02,2,-,Y,1,2,3,4,5,6,7\n",
    )
    result = read_path(path)
    assert result.prices.height == 0
    assert result.rejects.select("line", "reason", "detail").rows() == [
        (2, "missing_symbol", "symbol is empty"),
        (3, "missing_symbol", "symbol is empty"),
    ]


def test_whitespace_only_lines_are_not_records(tmp_path):
    path = write(
        tmp_path / "ADBL" / "prices.csv",
        f"\n{SHARESANSAR}\n   \n2024-01-01,1,2,3,4,0,5,6\n\t\n2024-01-02,1,2,3,4,0,5,6\n\n",
    )
    result = read_path(path)
    assert result.prices["line"].to_list() == [4, 6]
    assert result.rows_read == data_lines(path) == 2


def test_header_only_file_reads_no_rows(tmp_path):
    result = read_path(write(tmp_path / "ADBL" / "prices.csv", f"{SHARESANSAR}\n"))
    assert result.fmt == "sharesansar_prices"
    assert result.rows_read == 0


def test_missing_path_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="no such file or folder"):
        read_path(tmp_path / "nowhere")


def test_a_named_file_that_is_not_csv_or_parquet_is_a_source_error(tmp_path):
    path = write(tmp_path / "prices.json", "[]\n")
    with pytest.raises(SourceError, match="not a price file"):
        read_path(path)


# --------------------------------------------------------------------------- side tables


def test_dividends_become_bonus_and_cash_actions(tmp_path):
    path = write(
        tmp_path / "ADBL" / "dividend.csv",
        f"{DIVIDEND}\n"
        "2081/2082,3.25,9.75,13.00,2025-11-30 [Closed]\n"
        "2080/2081,,5.00,5.00,2026-04-09\n"
        '2079/2080,0.00,"1,842.00","1,842.00",\n'
        "2078/2079,20.00,,20.00,-\n"
        "2075/2076,0.00,0.00,0.00,2021-08-01 [Closed]\n",
    )
    result = read_path(path)
    assert result.fmt == "sharesansar_dividends"
    expected = pl.DataFrame(
        [
            ("ADBL", "bonus", 3.25, date(2025, 11, 30), "2081/2082"),
            ("ADBL", "cash", 9.75, date(2025, 11, 30), "2081/2082"),
            ("ADBL", "cash", 5.0, date(2026, 4, 9), "2080/2081"),
            ("ADBL", "cash", 1842.0, None, "2079/2080"),
            ("ADBL", "bonus", 20.0, None, "2078/2079"),
        ],
        schema=["symbol", "kind", "percent", "book_closure_date", "fiscal_year"],
        orient="row",
    ).cast({"book_closure_date": pl.Date})
    actions = result.corporate_actions
    assert_frame_equal(actions.select(expected.columns), expected)
    assert actions["ratio"].is_null().all() and actions["issue_price"].is_null().all()
    assert actions["source"].unique().to_list() == [str(path)]
    assert result.prices.height == 0 and result.rejects.height == 0


def test_unparseable_dividend_row_is_rejected_not_dropped(tmp_path):
    path = write(
        tmp_path / "ADBL" / "dividend.csv",
        f"{DIVIDEND}\n2081/2082,ten,1,11,2025-11-30 [Closed]\n2080/2081,1,1,2,soon\n",
    )
    result = read_path(path)
    assert result.corporate_actions.height == 0
    assert result.rejects.select("line", "reason", "detail").rows() == [
        (2, "unparseable", "bonus_share='ten' is not a number"),
        (3, "unparseable", "book_closure_date='soon' is not a date"),
    ]


@pytest.mark.parametrize(
    ("written", "ratio", "percent"),
    [
        ("1:1", "1:1", 100.0),
        ("1: 1", "1:1", 100.0),
        (" 2 :1", "2:1", 50.0),
        ("10:8", "10:8", 80.0),
        ("1:0.80", "1:0.80", 80.0),
        ("1: 0.40", "1:0.40", 40.0),
    ],
)
def test_rights_ratio_variants(tmp_path, written, ratio, percent):
    path = write(
        tmp_path / "ADBL" / "right-share.csv",
        f'{RIGHTS}\n"{written}",19688000.00,100.00,2016-10-18,2016-11-21,,Ace Capital Limited.\n',
    )
    result = read_path(path)
    assert result.fmt == "sharesansar_rights"
    row = result.corporate_actions.row(0, named=True)
    assert row["symbol"] == "ADBL" and row["kind"] == "rights"
    assert row["ratio"] == ratio
    assert row["percent"] == pytest.approx(percent)
    assert row["issue_price"] == 100.0
    assert row["book_closure_date"] == date(2016, 10, 18)
    assert row["fiscal_year"] is None


def test_rights_without_dates_or_with_a_bad_ratio(tmp_path):
    path = write(
        tmp_path / "ADBL" / "right-share.csv",
        f"{RIGHTS}\n1:0.5,5327085.00,100.00,,,,Global IME Capital Limited\n"
        "one to one,1,100,2016-10-18,,,X\n0:1,1,100,2016-10-18,,,X\n,1,100,2016-10-18,,,X\n",
    )
    result = read_path(path)
    assert result.corporate_actions.select("ratio", "percent", "book_closure_date").rows() == [
        ("1:0.5", 50.0, None)
    ]
    assert result.rejects.select("line", "detail").rows() == [
        (3, "ratio='one to one' is not a:b"),
        (4, "ratio='0:1' is not a:b"),
        (5, "ratio is empty"),
    ]


@pytest.mark.parametrize(
    ("file", "line", "detail"),
    [
        ("dividend.csv", "2081/2082,-50,5,0,2025-11-30", "bonus_share -50.0 % is outside"),
        ("dividend.csv", "2081/2082,1000,5,0,2025-11-30", "bonus_share 1000.0 % is outside"),
        ("dividend.csv", "2081/2082,10,6000,0,2025-11-30", "cash_dividend 6000.0 % is outside"),
        ("right-share.csv", "1:0,1,100,2016-10-18,,,X", "ratio 1:0 offers no new shares"),
        ("right-share.csv", "1:12,1,100,2016-10-18,,,X", "ratio 1200.0 % is outside"),
        ("right-share.csv", "2:1,1,16974000,2016-10-18,,,X", "issue_price 16974000.0 is outside"),
        ("right-share.csv", "2:1,1,0,2016-10-18,,,X", "issue_price 0.0 is outside"),
    ],
)
def test_implausible_actions_are_rejected_not_stored(tmp_path, file, line, detail):
    header = DIVIDEND if file == "dividend.csv" else RIGHTS
    path = write(tmp_path / "ADBL" / file, f"{header}\n{line}\n")
    result = read_path(path)
    assert result.corporate_actions.is_empty()
    assert result.rejects["reason"].to_list() == ["implausible_action"]
    assert detail in result.rejects["detail"][0]
    assert result.rejects["raw"].to_list() == [line]


def test_the_largest_real_actions_are_plausible(tmp_path):
    write(tmp_path / "RBCL" / "dividend.csv", f"{DIVIDEND}\n2062/2063,114.27,1580,0,2017-04-23\n")
    write(tmp_path / "NBL" / "right-share.csv", f"{RIGHTS}\n1:9.5157,1,100,2013-05-22,,,X\n")
    result = read_path(tmp_path)
    assert result.rejects.is_empty()
    assert sorted(result.corporate_actions["percent"].round(2).to_list()) == [
        114.27,
        951.57,
        1580.0,
    ]


def test_company_list_becomes_securities(tmp_path):
    path = write(
        tmp_path / "CompanyList.csv",
        f"{COMPANIES}\n"
        "a@b.np,Nabil Bank Limited,131,Equity,Nepal Rastra Bank,Commercial Banks,"
        "Nabil Bank Limited,A,NABIL,www.nabilbank.com\n"
        "c@d.np,Bank of Kathmandu Ltd.,9136,Non-Convertible Debentures,Nepal Rastra Bank,"
        'Commercial Banks,"BOK Debenture 2086 ""KA""",A,BOKD86KA,\n'
        "e@f.np,Garima Bikas Bank Limited,8033,Non-Convertible Debentures,NRB,"
        'Development Banks,"Garima Debenture, 2085",D,GBBD85,\n'
        "g@h.np,Nameless,1,Equity,NRB,Others,,S,,\n",
    )
    result = read_path(path)
    assert result.fmt == "nepse_company_list"
    expected = pl.DataFrame(
        [
            ("NABIL", "Nabil Bank Limited", "Commercial Banks", "Equity", "A"),
            (
                "BOKD86KA",
                'BOK Debenture 2086 "KA"',
                "Commercial Banks",
                "Non-Convertible Debentures",
                "A",
            ),
            (
                "GBBD85",
                "Garima Debenture, 2085",
                "Development Banks",
                "Non-Convertible Debentures",
                "D",
            ),
        ],
        schema=list(SECURITY_SCHEMA),
        orient="row",
    )
    assert_frame_equal(result.securities, expected)
    assert result.rejects.select("line", "reason").rows() == [(5, "missing_symbol")]


# --------------------------------------------------------------------------- folders


def test_folder_dispatch_mixes_formats_and_skips_other_files(tmp_path, caplog):
    root = tmp_path / "mixed"
    write(root / "ADBL" / "prices.csv", f"{SHARESANSAR}\n2024-01-02,1,2,1,2,0,5,6\n", bom=True)
    write(root / "ADBL" / "dividend.csv", f"{DIVIDEND}\n2081/2082,10,0,10,2025-11-30 [Closed]\n")
    write(root / "ADBL" / "right-share.csv", f"{RIGHTS}\n1:1,1,100,2016-10-18,,,X\n")
    write(
        root / "legacy" / "NABIL_2000-01-01_2021-12-31.csv",
        f"{LEGACY}\n1,2021-12-29,10,100.00,50000.00,501.00,499.00,500.00\n",
        crlf=True,
    )
    write(root / "day" / "today.csv", f"{TODAY}\n1,12/31/2023,1,NICA,N,1,2,1,2,5,6,1\n")
    write(root / "README.md", "# notes\n")
    write(root / ".complete", "ok\n")
    write(root / ".git" / "HEAD", "ref: refs/heads/main\n")
    write(root / "meta.json", "{}\n")
    write(root / "empty.csv", "\n\n")
    with caplog.at_level(logging.WARNING, logger="nepse.sources.readers"):
        result = read_path(root)
    assert result.fmt == (
        "nepalstock_legacy+nepse_today_price+sharesansar_dividends+sharesansar_prices"
        "+sharesansar_rights"
    )
    assert sorted(result.prices.select("symbol", "date").rows()) == [
        ("ADBL", date(2024, 1, 2)),
        ("NABIL", date(2021, 12, 29)),
        ("NICA", date(2023, 12, 31)),
    ]
    assert result.corporate_actions.select("symbol", "kind").rows() == [
        ("ADBL", "bonus"),
        ("ADBL", "rights"),
    ]
    skipped = [str(root / "empty.csv"), str(root / "meta.json")]
    assert sorted(result.skipped) == sorted(skipped)
    assert all(name in caplog.text for name in skipped)
    # Notes and hidden entries are not data: passed over without a warning to learn to ignore.
    assert "README.md" not in caplog.text and ".complete" not in caplog.text
    assert ".git" not in caplog.text
    assert len(result.sources) == 5
    assert result.rows_read == 3


def test_unknown_csv_in_a_folder_stops_the_read(tmp_path):
    write(tmp_path / "ADBL" / "prices.csv", f"{SHARESANSAR}\n2024-01-02,1,2,1,2,0,5,6\n")
    bad = write(tmp_path / "LiveMarket.csv", "averageTradedPrice,highPrice\n1,2\n")
    with pytest.raises(SourceError, match=r"LiveMarket\.csv: unknown header"):
        read_path(tmp_path)
    assert bad.exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: (d / "gone.csv").symlink_to(d / "missing.csv"),
            r"gone\.csv: a symbolic link "
            r"to '.*missing\.csv', which does not exist \(a dangling link\)",
        ),
        (
            lambda d: (d / "self.csv").symlink_to(d / "self.csv"),
            r"self\.csv: a symbolic link "
            r"to '.*self\.csv', which points back into itself \(a link loop\)",
        ),
        (
            lambda d: (d / "ADBL" / "up").symlink_to(d),
            r"ADBL/up: a symbolic link to .*, a "
            r"folder that holds it, so the folder would be read forever \(a link loop\)",
        ),
        (lambda d: os.mkfifo(d / "pipe.csv"), r"pipe\.csv: not a regular file \(a FIFO"),
    ],
    ids=["dangling link", "link to itself", "link to a parent folder", "a FIFO"],
)
def test_an_unreadable_entry_in_a_folder_stops_the_read_naming_it(tmp_path, make, message):
    write(tmp_path / "ADBL" / "prices.csv", f"{SHARESANSAR}\n2024-01-02,1,2,1,2,0,5,6\n")
    make(tmp_path)
    with pytest.raises(SourceError, match=message):
        read_path(tmp_path)


def test_linked_folders_are_read_and_a_folder_linked_twice_once(tmp_path, caplog):
    data = tmp_path / "data"
    write(data / "ADBL" / "prices.csv", f"{SHARESANSAR}\n2024-01-02,1,2,1,2,0,5,6\n")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a").symlink_to(data)
    (tmp_path / "in" / "b").symlink_to(data)
    with caplog.at_level(logging.WARNING, logger="nepse.sources.readers"):
        result = read_path(tmp_path / "in")
    assert result.rows_read == 1
    assert result.sources == [str(tmp_path / "in" / "a" / "ADBL" / "prices.csv")]
    assert result.skipped == [f"{tmp_path / 'in' / 'b'} (a link to {data}, read once already)"]
    assert "read once already" in caplog.text


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_a_file_without_read_permission_stops_the_read_naming_it(tmp_path):
    bad = write(tmp_path / "NABIL" / "prices.csv", f"{SHARESANSAR}\n2024-01-02,1,2,1,2,0,5,6\n")
    bad.chmod(0)
    with pytest.raises(SourceError, match=r"NABIL/prices\.csv: cannot read the file"):
        read_path(tmp_path)


def test_an_action_in_two_files_is_kept_once(tmp_path):
    text = f"{DIVIDEND}\n2081/2082,3.25,9.75,13.00,2025-11-30 [Closed]\n"
    write(tmp_path / "ADBL" / "dividend.csv", text)
    write(tmp_path / "ADBL" / "dividend2.csv", text)
    result = read_path(tmp_path)
    assert result.corporate_actions.select("kind", "percent").rows() == [
        ("bonus", 3.25),
        ("cash", 9.75),
    ]
    assert result.corporate_actions.schema == pl.Schema(CORPORATE_ACTION_SCHEMA)


def test_rows_read_matches_data_lines_per_file(tmp_path):
    files = [
        write(tmp_path / "A" / "prices.csv", f"{SHARESANSAR}\n2024-01-02,1,2,1,2,0,5,6\nbad\n"),
        write(tmp_path / "B" / "prices.csv", f"{SHARESANSAR}\n\n2024-01-02,1,2,1,2,0,5,6\n\n"),
        write(tmp_path / "C.csv", f"{HISTORY}\n2024-01-02,1,2,1,2,0,5,6,1\n" * 1),
    ]
    result = read_path(tmp_path)
    counts = dict(
        pl.concat([result.prices.select("source"), result.rejects.select("source")])
        .group_by("source")
        .len()
        .rows()
    )
    assert counts == {str(f): data_lines(f) for f in files}


def test_not_utf8_is_read_as_windows_1252_without_control_characters(tmp_path, caplog):
    path = tmp_path / "today.csv"
    name = "Caf\xe9 \x93Nepal\x94 \x96 Bank"  # cp1252: e-acute, curly quotes, en dash
    path.write_bytes(f"{TODAY}\n1,2024-01-02,1,ADBL,{name},1,2,1,2,5,6,1\n".encode("latin-1"))
    with caplog.at_level(logging.WARNING, logger="nepse.sources.readers"):
        result = read_path(path)
    raw = result.prices["raw"][0]
    assert "Caf\u00e9 \u201cNepal\u201d \u2013 Bank" in raw
    assert not any(0x80 <= ord(ch) <= 0x9F for ch in raw)  # no C1 control character
    assert "Windows-1252" in caplog.text


def test_neither_utf8_nor_windows_1252_is_refused_naming_the_line(tmp_path):
    path = tmp_path / "today.csv"
    path.write_bytes(f"{TODAY}\n1,2024-01-02,1,ADBL,A\x81B,1,2,1,2,5,6,1\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"today\.csv: line 2: byte 0x81 .*re-save it as UTF-8"):
        read_path(path)


def test_a_column_named_twice_in_the_header_is_refused(tmp_path):
    path = write(tmp_path / "prices.csv", "symbol,date,open,high,low,close,volume,turnover,Close\n")
    with pytest.raises(
        SourceError, match=r"prices\.csv: line 1: .*'Close' twice \(columns 6 and 9\)"
    ):
        read_path(path)


def test_sharesansar_open_before_2018_02_18_is_nulled(tmp_path):
    """Before 2018-02-18 ShareSansar's open is the previous close, not a real open."""
    folder = tmp_path / "ABC"
    folder.mkdir()
    (folder / "prices.csv").write_text(
        "date,open,high,low,ltp,percent_change,qty,turnover\n"
        "2018-02-18,101.0,105.0,100.0,104.0,1.0,10,1040\n"
        "2018-02-15,99.0,102.0,98.0,100.0,0,10,1000\n"
    )
    result = read_path(tmp_path)
    opens = dict(zip(result.prices["date"].cast(str), result.prices["open"], strict=True))
    assert opens == {"2018-02-18": 101.0, "2018-02-15": None}
    assert result.prices["close"].to_list() == [104.0, 100.0]
