"""`cs-signals check-config [FILE]`: validate a rules file and explain every error."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from config.settings import Settings, SettingsError


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check-config",
        help="validate a rules file and explain every error",
        description=(
            "Validate a rules file (default: CS_RULES_FILE, else the bundled "
            "config/rules.yaml): health weights, thresholds, playbooks, conditions, SLAs "
            "and segment overrides. Prints every problem with its field; exit code 1 if any."
        ),
    )
    parser.add_argument("file", nargs="?", default=None, help="the rules file to check")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from config.rules import check_rules_file

    path = args.file
    if path is None:
        try:
            path = Settings.from_env().rules_file
        except SettingsError as exc:
            print(f"cs-signals: bad configuration: {exc}", file=sys.stderr)
            return 2
    errors = check_rules_file(path)
    shown = path or "the bundled config/rules.yaml"
    if errors:
        print(f"{shown}: {len(errors)} problem(s):", file=sys.stderr)
        for error in errors:
            print(f"  - {error}", file=sys.stderr)
        return 1
    print(f"{shown}: OK")
    return 0
