"""`nepse fake-api` and `nepse fake-exchange`: serve a fake on 127.0.0.1 until interrupted."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import polars as pl

from nepse.devdata.market_items import Faults, load_prices


def _parser(prog: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--data", type=Path, required=True, help="prices file or folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--faults", default=None, help="initial faults as a JSON object")
    return parser


def _serve(prog: str, args: argparse.Namespace, make: Any, what: str) -> int:
    try:
        prices = load_prices(args.data)
        faults = Faults.from_json(json.loads(args.faults)) if args.faults else None
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 2
    server = make(prices, faults)
    with server:
        # One parseable line so a test in another process can find the port.
        print(f"{what} serving {len(server.days)} day(s) at {server.url}", flush=True)
        stop = threading.Event()
        # SIGTERM (a test or supervisor stopping us) shuts down as cleanly as Ctrl-C.
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def fake_api_main(argv: list[str] | None = None) -> int:
    """CLI `nepse fake-api --data DIR --port P`: the bearer-token today-price API."""
    from nepse.devdata.fake_api import FakeNepseApi

    parser = _parser("nepse fake-api", "A fake NEPSE today-price API (Bearer token).")
    parser.add_argument("--token", default=None, help="require this Bearer token")
    parser.add_argument("--max-page-size", type=int, default=None)
    args = parser.parse_args(argv)
    return _serve(
        "nepse fake-api",
        args,
        lambda prices, faults: FakeNepseApi(
            prices,
            host=args.host,
            port=args.port,
            faults=faults,
            token=args.token,
            max_page_size=args.max_page_size,
        ),
        "fake NEPSE API",
    )


def fake_exchange_main(argv: list[str] | None = None) -> int:
    """CLI `nepse fake-exchange --data DIR --port P`: nepalstock.com's protocol."""
    from nepse.devdata.fake_exchange import FakeExchange

    parser = _parser(
        "nepse fake-exchange", "A fake nepalstock.com that speaks the exchange's real protocol."
    )
    parser.add_argument("--token-ttl", type=float, default=45.0, help="access token life, s")
    args = parser.parse_args(argv)
    return _serve(
        "nepse fake-exchange",
        args,
        lambda prices, faults: FakeExchange(
            prices, host=args.host, port=args.port, faults=faults, token_ttl_s=args.token_ttl
        ),
        "fake NEPSE exchange",
    )
