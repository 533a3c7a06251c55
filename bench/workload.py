"""The benchmark's events: the demo sample repeated back in event time and truncated to N,
and producing them keyed by account."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition

from events.models import EVENT_TYPES, INBOUND_TOPICS
from workers.local.sample import generate_sample

TOPIC_OF_TYPE = EVENT_TYPES  # every kind the sample has (usage, tickets, NPS, facts, activity...)
SAMPLE_SPAN = timedelta(weeks=8)  # generate_sample() default: eight weeks from 2026-08-31


Record = tuple[str, bytes, bytes]  # (un-prefixed topic, key, value)


def _shift_date(text: str, days: int) -> str:
    return (date.fromisoformat(text) - timedelta(days=days)).isoformat()


def build_events(n: int) -> tuple[list[Record], Counter[str], str]:
    """The demo sample repeated (each copy earlier by its 8-week span, with its own event
    ids, so the stream stays in event-time order and nothing is a duplicate by accident)
    and truncated to n. Returns the records, counts by type and the last occurred_at."""
    base = generate_sample()
    reps = max(1, math.ceil(n / len(base)))
    records: list[Record] = []
    kinds: Counter[str] = Counter()
    last = ""
    for rep in range(reps):
        back = reps - 1 - rep  # the last repetition is the sample itself
        days = back * SAMPLE_SPAN.days
        for event in base:
            if len(records) >= n:
                break
            fields = {k: v for k, v in event.items() if k != "type"}
            if back:
                moment = datetime.fromisoformat(fields["occurred_at"]) - timedelta(days=days)
                fields["occurred_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
                fields["event_id"] = f"{fields['event_id']}.r{back}"
                for name in ("contract_start", "renewal_date", "due_date"):
                    if isinstance(fields.get(name), str):
                        fields[name] = _shift_date(fields[name], days)
                if isinstance(fields.get("scheduled_for"), str):  # a booked CSM touchpoint
                    when = datetime.fromisoformat(fields["scheduled_for"]) - timedelta(days=days)
                    fields["scheduled_for"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            kinds[event["type"]] += 1
            last = max(last, fields["occurred_at"])
            records.append(
                (
                    TOPIC_OF_TYPE[event["type"]],
                    fields["account_id"].encode(),
                    json.dumps(fields, separators=(",", ":")).encode(),
                )
            )
    return records, kinds, last


def input_partitions(prefix: str, partitions: int) -> list[TopicPartition]:
    return [TopicPartition(prefix + t, p) for t in INBOUND_TOPICS for p in range(partitions)]


async def produce(
    bootstrap: str, prefix: str, records: Sequence[Record]
) -> tuple[float, dict[TopicPartition, int]]:
    """Publish records (keyed by account, default murmur2 partitioner, as the Java client
    and `cs-signals produce` do); return the seconds it took and each partition's end offset
    as acknowledged by the broker.

    The end offsets come from the produce acknowledgements on purpose: this Tansu build
    answers ListOffsets(latest) with the *last batch's base offset + 1*, not the log end,
    whenever a producer batched several records (see bench/README.md).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    ends: dict[TopicPartition, int] = {}

    def note(results: list[Any]) -> None:
        for meta in results:
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)

    try:
        pending: list[asyncio.Future[Any]] = []
        for topic, key, value in records:
            pending.append(await producer.send(prefix + topic, value=value, key=key))
            if len(pending) >= 20_000:
                note(await asyncio.gather(*pending))
                pending.clear()
        note(await asyncio.gather(*pending))
    finally:
        await producer.stop()
    return time.perf_counter() - started, ends
