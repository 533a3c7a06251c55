"""`cs-signals demo`: the whole system on this machine (see workers/local/demo.py)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="run the whole system locally on a bundled sample (nothing to install)",
        description=(
            "Start an embedded Kafka-compatible broker (Tansu) and Redis on free ports, a "
            "worker, replay a realistic sample of accounts through it, show tasks as they "
            "are raised and end with a summary. Everything started is stopped at the end "
            "or on Ctrl-C."
        ),
    )
    parser.add_argument(
        "--accounts", type=int, default=120, help="accounts in the sample (default 120)"
    )
    parser.add_argument("--weeks", type=int, default=8, help="weeks of history (default 8)")
    parser.add_argument("--quiet", action="store_true", help="show only progress and the summary")
    parser.add_argument(
        "--board",
        action="store_true",
        help="after the replay keep everything running and open the CSM board (until Ctrl-C)",
    )
    parser.add_argument(
        "--notify-webhook",
        action="store_true",
        help="also run `cs-signals notify webhook` against a local receiver and print what it "
        "delivered (signed POSTs, signatures checked)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workers.local.demo import run_demo

    return run_demo(
        accounts=args.accounts,
        weeks=args.weeks,
        quiet=args.quiet,
        board=args.board,
        notify_webhook=args.notify_webhook,
    )
