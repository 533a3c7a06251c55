"""The `cs-signals` command line: the top-level parser and the dispatch to one command.

Each command is a module of this package with `register(sub)` (its arguments and help) and
`run(args)`; what a command needs beyond the standard library and the settings is imported
when it runs, so `cs-signals --help` stays fast.
"""

from __future__ import annotations

import argparse

from workers.cli import (
    backtest,
    board,
    check_config,
    contract,
    demo,
    evaluate,
    notify,
    produce,
    sample,
    sync,
    tail,
    worker,
)
from workers.cli.settings import SETTINGS_EPILOG

DESCRIPTION = """\
cs-signals turns customer signals (product usage, support tickets, NPS responses, account
facts) arriving on Kafka into health scores and playbook tasks for customer-success teams.

Start here:  cs-signals demo      (runs everything locally, nothing to install beforehand)
"""

# In the order `--help` lists them.
COMMANDS = (
    worker, demo, produce, tail, check_config, backtest, evaluate, sample, notify, sync, board,
    contract,
)  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cs-signals",
        description=DESCRIPTION,
        epilog=SETTINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
