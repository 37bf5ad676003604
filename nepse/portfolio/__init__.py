"""The decision layer: from a ranking to orders, fills and a paper-trading record.

market (what a session offers) -> universe (what may be bought) -> policy (what to hold, on a
cadence, with a band and a minimum hold) -> orders (tomorrow's trades) -> fills + costs +
session (what a session fills and what it costs) -> step (one session: the backtest's and the
paper ledger's) -> paper (the daily run's record in DuckDB) -> chart (its NAV picture).

Entry points for the daily run: `run_paper_day(store, settings, day)` and `nav_figure(ledger)`.
"""

from nepse.portfolio.chart import nav_figure, nav_html
from nepse.portfolio.paper import PaperDay, run_paper_day
from nepse.portfolio.policy import PortfolioConfig

__all__ = ["PaperDay", "PortfolioConfig", "nav_figure", "nav_html", "run_paper_day"]
