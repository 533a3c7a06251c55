"""`cs-signals contract`: print the machine-readable contract (AsyncAPI 3.0)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "contract",
        help="print the machine-readable contract (AsyncAPI 3.0)",
        description=(
            "Print the AsyncAPI 3.0 document of every topic (its key, message and JSON Schema "
            "payload), generated from the code's own models. The repository keeps a copy in "
            "events/asyncapi.yaml."
        ),
    )
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")
    parser.add_argument("--output", metavar="FILE", help="write to FILE instead of printing it")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from events.asyncapi import render

    text = render(fmt=args.format)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
