"""`cs-signals sample`: write the bundled demo sample as JSON lines (for `produce`), or with
`--labelled` a labelled book (events plus an outcomes file) to score rules on with `evaluate`."""

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
            "Write the deterministic demo sample as JSON lines, ready for `cs-signals produce`. "
            "With --labelled: a six-month labelled book (churners, dips, expansions, "
            "downgrades, renewals, and the nuisances of a real book) plus its outcomes file, "
            "for `cs-signals evaluate`."
        ),
    )
    parser.add_argument("--out", default="-", help="output file (default: standard output)")
    parser.add_argument(
        "--labelled",
        action="store_true",
        help="write the labelled book instead of the demo sample (needs --outcomes)",
    )
    parser.add_argument(
        "--outcomes", default=None, help="with --labelled: the outcomes file (JSON lines)"
    )
    parser.add_argument("--accounts", type=int, default=None, help="default 120 (labelled: 300)")
    parser.add_argument("--weeks", type=int, default=None, help="default 8 (labelled: 26)")
    parser.add_argument("--seed", type=int, default=7)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.labelled:
        return _labelled(args)
    if args.outcomes is not None:
        print("cs-signals sample: --outcomes goes with --labelled", file=sys.stderr)
        return 2
    from workers.local.sample import describe_sample, generate_sample

    accounts = 120 if args.accounts is None else args.accounts
    weeks = 8 if args.weeks is None else args.weeks
    events = generate_sample(accounts=accounts, weeks=weeks, seed=args.seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")  # noqa: SIM115
    try:
        for event in events:
            out.write(json.dumps(event, separators=(",", ":")) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(json.dumps(describe_sample(events), indent=2), file=sys.stderr)
    return 0


def _labelled(args: argparse.Namespace) -> int:
    from workers.local.labelled import describe_book, generate_labelled_book
    from workers.local.labelled.output import write_lines

    if not args.outcomes:
        print(
            "cs-signals sample: --labelled needs --outcomes FILE (where to write what happened "
            "to each account)",
            file=sys.stderr,
        )
        return 2
    accounts = 300 if args.accounts is None else args.accounts
    weeks = 26 if args.weeks is None else args.weeks
    if accounts < 1 or weeks < 4:
        print(
            "cs-signals sample: --labelled needs --accounts >= 1 and --weeks >= 4", file=sys.stderr
        )
        return 2
    book = generate_labelled_book(accounts=accounts, weeks=weeks, seed=args.seed)
    try:
        if args.out == "-":
            write_lines(sys.stdout, book.events)
        else:
            with open(args.out, "w", encoding="utf-8", newline="\n") as fh:
                write_lines(fh, book.events)
        with open(args.outcomes, "w", encoding="utf-8", newline="\n") as fh:
            write_lines(fh, book.outcomes)
    except OSError as exc:
        print(f"cs-signals sample: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(describe_book(book), indent=2), file=sys.stderr)
    return 0
