"""`cs-signals produce FILE.jsonl`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from config.settings import Settings
from workers.cli.settings import settings_or_exit


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "produce",
        help="publish events from a JSON-lines file to their topics",
        description=(
            "Publish events from FILE (one JSON object a line with a `type` of usage, ticket, "
            "nps, account, feedback, activity or milestone, plus the event's fields) to their "
            "topics, keyed by account_id. "
            "Invalid lines are reported with their line numbers and skipped; every valid "
            "line is published. Exit code 1 when any line was invalid."
        ),
        epilog='example line: {"type": "nps", "event_id": "n-1", "account_id": "acme", '
        '"occurred_at": "2026-11-20T10:00:00Z", "score": 4}',
    )
    parser.add_argument("file", help="the JSON-lines file ('-' for standard input)")
    parser.add_argument("--dry-run", action="store_true", help="validate the file, publish nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return produce_file(settings_or_exit(), Path(args.file), dry_run=args.dry_run)


def produce_file(settings: Settings, path: Path, *, dry_run: bool = False) -> int:
    from config.security import kafka_python_options
    from events.jsonl import parse_jsonl_lines
    from workers.stream.kafka_io import KafkaUnavailable, make_producer, prepare_topics

    if str(path) == "-":
        records, errors = parse_jsonl_lines(sys.stdin)
    else:
        if not path.is_file():
            print(f"cs-signals produce: no such file: {path}", file=sys.stderr)
            return 2
        with path.open(encoding="utf-8", errors="replace") as handle:
            records, errors = parse_jsonl_lines(handle)
    for error in errors:
        print(f"{path}:{error.line_no}: {error.message}", file=sys.stderr)
    if dry_run:
        print(f"{len(records)} valid event(s), {len(errors)} invalid line(s); nothing published")
        return 1 if errors else 0
    security = kafka_python_options(settings)
    try:
        prepare_topics(
            settings.kafka_bootstrap_servers,
            settings.topic_prefix,
            settings.topic_partitions,
            settings.topic_replication,
            security=security,
        )
    except (KafkaUnavailable, ValueError) as exc:
        print(f"cs-signals produce: {exc}", file=sys.stderr)
        return 3
    producer = make_producer(settings.kafka_bootstrap_servers, security=security)
    total = len(records)
    step = max(1, total // 20)
    try:
        for index, record in enumerate(records, start=1):
            producer.send(
                settings.topic(record.topic), key=record.key.encode("utf-8"), value=record.value
            )
            if sys.stderr.isatty() and index % step == 0:
                print(f"\r  published {index:,}/{total:,}", end="", file=sys.stderr)
        producer.flush()
    finally:
        producer.close()
    if sys.stderr.isatty() and total:
        print(file=sys.stderr)
    print(f"published {total:,} event(s); {len(errors)} invalid line(s) skipped")
    return 1 if errors else 0
