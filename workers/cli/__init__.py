"""The `cs-signals` command line (console script `workers.cli:main`, or `python -m workers.cli`):
workers/cli/parser.py builds the parser and dispatches; each command is a module of its own."""

from workers.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
