"""The `cs-signals` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from config.settings import SETTINGS_HELP, Settings, SettingsError

DESCRIPTION = """\
cs-signals turns customer signals (product usage, support tickets, NPS responses, account
facts) arriving on Kafka into health scores and playbook tasks for customer-success teams.

Start here:  cs-signals demo      (runs everything locally, nothing to install beforehand)
"""

SETTINGS_EPILOG = (
    "settings (environment variables, or a .env file in the current directory):\n"
    + "\n".join(
        f"  {name:<30} {meaning} (default: {default if default != '' else 'empty'})"
        for name, (default, meaning) in SETTINGS_HELP.items()
    )
)


def _settings_or_exit() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"cs-signals: bad configuration: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc


def cmd_worker(args: argparse.Namespace) -> int:
    from workers.runner import run_worker

    return run_worker(_settings_or_exit())


def cmd_demo(args: argparse.Namespace) -> int:
    from workers.demo import run_demo

    return run_demo(accounts=args.accounts, weeks=args.weeks, quiet=args.quiet)


def cmd_produce(args: argparse.Namespace) -> int:
    from workers.produce import produce_file

    return produce_file(_settings_or_exit(), Path(args.file), dry_run=args.dry_run)


def cmd_tail(args: argparse.Namespace) -> int:
    from workers.tail import tail_topic

    return tail_topic(
        _settings_or_exit(),
        args.topic,
        from_beginning=args.from_beginning,
        raw_json=args.json,
        idle_timeout=args.idle_timeout,
    )


def cmd_check_config(args: argparse.Namespace) -> int:
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


def cmd_backtest(args: argparse.Namespace) -> int:
    from workers.backtest import backtest_file

    rules_file = args.rules or _settings_or_exit().rules_file
    return backtest_file(args.file, rules_file, show_tasks=args.tasks)


def cmd_sample(args: argparse.Namespace) -> int:
    from workers.sample import describe_sample, generate_sample

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cs-signals",
        description=DESCRIPTION,
        epilog=SETTINGS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    raw = argparse.RawDescriptionHelpFormatter

    worker = sub.add_parser(
        "worker",
        help="run a stream worker against the configured Kafka and Redis",
        description=(
            "Run a stream worker: consume usage-events, ticket-events, nps-events and "
            "account-events; publish playbook-tasks, health-scores, dead-letters and "
            "ops-metrics; keep the live view in Redis. Several workers with the same "
            "CS_APP_ID share the partitions. Stops cleanly on Ctrl-C / SIGTERM."
        ),
        epilog=SETTINGS_EPILOG,
        formatter_class=raw,
    )
    worker.set_defaults(func=cmd_worker)

    demo = sub.add_parser(
        "demo",
        help="run the whole system locally on a bundled sample (nothing to install)",
        description=(
            "Start an embedded Kafka-compatible broker (Tansu) and Redis on free ports, a "
            "worker, replay a realistic sample of accounts through it, show tasks as they "
            "are raised and end with a summary. Everything started is stopped at the end "
            "or on Ctrl-C."
        ),
    )
    demo.add_argument(
        "--accounts", type=int, default=120, help="accounts in the sample (default 120)"
    )
    demo.add_argument("--weeks", type=int, default=8, help="weeks of history (default 8)")
    demo.add_argument("--quiet", action="store_true", help="show only progress and the summary")
    demo.set_defaults(func=cmd_demo)

    produce = sub.add_parser(
        "produce",
        help="publish events from a JSON-lines file to their topics",
        description=(
            "Publish events from FILE (one JSON object a line with a `type` of usage, ticket, "
            "nps or account, plus the event's fields) to their topics, keyed by account_id. "
            "Invalid lines are reported with their line numbers and skipped; every valid "
            "line is published. Exit code 1 when any line was invalid."
        ),
        epilog='example line: {"type": "nps", "event_id": "n-1", "account_id": "acme", '
        '"occurred_at": "2026-11-20T10:00:00Z", "score": 4}',
    )
    produce.add_argument("file", help="the JSON-lines file ('-' for standard input)")
    produce.add_argument(
        "--dry-run", action="store_true", help="validate the file, publish nothing"
    )
    produce.set_defaults(func=cmd_produce)

    tail = sub.add_parser(
        "tail",
        help="follow a topic in readable form",
        description=(
            "Follow TOPIC (playbook-tasks, health-scores, dead-letters, ops-metrics or an "
            "input topic; CS_TOPIC_PREFIX is added for you) and print each message readably."
        ),
    )
    tail.add_argument("topic", help="topic name without the prefix, e.g. playbook-tasks")
    tail.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    tail.add_argument("--json", action="store_true", help="print raw JSON, one per line")
    tail.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds without a message (default: follow forever)",
    )
    tail.set_defaults(func=cmd_tail)

    check = sub.add_parser(
        "check-config",
        help="validate a rules file and explain every error",
        description=(
            "Validate a rules file (default: CS_RULES_FILE, else the bundled "
            "config/rules.yaml): health weights, thresholds, playbooks, conditions, SLAs "
            "and segment overrides. Prints every problem with its field; exit code 1 if any."
        ),
    )
    check.add_argument("file", nargs="?", default=None, help="the rules file to check")
    check.set_defaults(func=cmd_check_config)

    back = sub.add_parser(
        "backtest",
        help="run the rules over a JSON-lines file offline and count the tasks they raise",
        description=(
            "Apply a rules file to recorded events (the `produce` file format) with the same "
            "core and event order as a live worker, without Kafka or Redis, and print the "
            "tasks per playbook. Use it to tune thresholds before deploying a rules file."
        ),
    )
    back.add_argument("file", help="the JSON-lines file of events")
    back.add_argument(
        "--rules", default=None, help="rules file (default: CS_RULES_FILE or bundled)"
    )
    back.add_argument("--tasks", action="store_true", help="also print every task")
    back.set_defaults(func=cmd_backtest)

    sample = sub.add_parser(
        "sample",
        help="write the bundled demo sample as JSON lines (for `produce`)",
        description=(
            "Write the deterministic demo sample as JSON lines, ready for `cs-signals produce`."
        ),
    )
    sample.add_argument("--out", default="-", help="output file (default: standard output)")
    sample.add_argument("--accounts", type=int, default=120)
    sample.add_argument("--weeks", type=int, default=8)
    sample.add_argument("--seed", type=int, default=7)
    sample.set_defaults(func=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
