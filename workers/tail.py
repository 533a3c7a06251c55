"""`cs-signals tail TOPIC`."""

from __future__ import annotations

import sys

from config.settings import Settings
from events.models import INBOUND_TOPICS, OUTPUT_TOPICS
from workers.render import render
from workers.stream.kafka_io import KafkaUnavailable, follow, wait_for_kafka

KNOWN = tuple(OUTPUT_TOPICS) + tuple(INBOUND_TOPICS)


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
    try:
        wait_for_kafka(settings.kafka_bootstrap_servers, timeout=10)
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
        ):
            line = value.decode("utf-8", "replace") if raw_json else render(name, value)
            print(line, flush=True)
    except KeyboardInterrupt:
        pass
    return 0
