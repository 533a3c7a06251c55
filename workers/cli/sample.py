"""`cs-signals sample`: write the bundled demo sample as JSON lines (for `produce`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "sample",
        help="write the bundled demo sample as JSON lines (for `produce`)",
        description=(
            "Write the deterministic demo sample as JSON lines, ready for `cs-signals produce`."
        ),
    )
    parser.add_argument("--out", default="-", help="output file (default: standard output)")
    parser.add_argument("--accounts", type=int, default=120)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workers.local.sample import describe_sample, generate_sample

    events = generate_sample(accounts=args.accounts, weeks=args.weeks, seed=args.seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for event in events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(json.dumps(describe_sample(events), indent=2), file=sys.stderr)
    return 0
