"""`cs-signals tail TOPIC`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from config.settings import Settings
from events.models import INBOUND_TOPICS, OUTPUT_TOPICS
from workers.cli.settings import settings_or_exit

KNOWN = tuple(OUTPUT_TOPICS) + tuple(INBOUND_TOPICS)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "tail",
        help="follow a topic in readable form",
        description=(
            "Follow TOPIC (playbook-tasks, health-scores, dead-letters, ops-metrics or an "
            "input topic; CS_TOPIC_PREFIX is added for you) and print each message readably."
        ),
    )
    parser.add_argument("topic", help="topic name without the prefix, e.g. playbook-tasks")
    parser.add_argument("--from-beginning", action="store_true", help="start at the oldest message")
    parser.add_argument("--json", action="store_true", help="print raw JSON, one per line")
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="stop after this many seconds without a message (default: follow forever)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return tail_topic(
        settings_or_exit(),
        args.topic,
        from_beginning=args.from_beginning,
        raw_json=args.json,
        idle_timeout=args.idle_timeout,
    )


def tail_topic(
    settings: Settings,
    topic: str,
    *,
    from_beginning: bool = False,
    raw_json: bool = False,
    idle_timeout: float | None = None,
) -> int:
    name = topic.removeprefix(settings.topic_prefix) if settings.topic_prefix else topic
    if name not in KNOWN:
        print(
            f"cs-signals tail: unknown topic {topic!r}; valid: {', '.join(KNOWN)}",
            file=sys.stderr,
        )
        return 2
    from config.security import kafka_python_options
    from workers.render import render
    from workers.stream.kafka_io import KafkaUnavailable, follow, wait_for_kafka

    security = kafka_python_options(settings)
    try:
        wait_for_kafka(settings.kafka_bootstrap_servers, timeout=10, security=security)
    except KafkaUnavailable as exc:
        print(f"cs-signals tail: {exc}", file=sys.stderr)
        return 3
    full = settings.topic(name)
    print(f"following {full} (Ctrl-C to stop)", file=sys.stderr)
    try:
        for _key, value, _partition, _offset in follow(
            settings.kafka_bootstrap_servers,
            full,
            from_beginning=from_beginning,
            idle_timeout=idle_timeout,
            security=security,
        ):
            line = value.decode("utf-8", "replace") if raw_json else render(name, value)
            print(line, flush=True)
    except KeyboardInterrupt:
        pass
    return 0
