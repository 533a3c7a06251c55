"""`cs-signals produce FILE.jsonl`."""

from __future__ import annotations

import sys
from pathlib import Path

from config.settings import Settings
from workers.jsonl_input import parse_jsonl_lines
from workers.stream.kafka_io import KafkaUnavailable, make_producer, prepare_topics


def produce_file(settings: Settings, path: Path, *, dry_run: bool = False) -> int:
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
    try:
        prepare_topics(
            settings.kafka_bootstrap_servers,
            settings.topic_prefix,
            settings.topic_partitions,
            settings.topic_replication,
        )
    except (KafkaUnavailable, ValueError) as exc:
        print(f"cs-signals produce: {exc}", file=sys.stderr)
        return 3
    producer = make_producer(settings.kafka_bootstrap_servers)
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
