"""Blocking Kafka helpers for the command line (produce, tail, topic set-up, progress).

The workers themselves talk to Kafka through faust; these helpers use kafka-python so the
commands stay simple synchronous programs. Each takes `security`: the connection's security
options (config.security.kafka_python_options(settings); None = PLAINTEXT).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

from events.models import INBOUND_TOPICS, OUTPUT_TOPICS


class KafkaUnavailable(RuntimeError):
    pass


Security = Mapping[str, Any] | None


def _servers(bootstrap: str) -> list[str]:
    return [s.strip() for s in bootstrap.split(",") if s.strip()]


def wait_for_kafka(bootstrap: str, timeout: float = 30.0, *, security: Security = None) -> None:
    """Fail with a clear message instead of faust's endless reconnect loop: at once when a
    TLS or SASL setting does not match what the broker speaks (kafka_probe)."""
    from workers.stream.kafka_probe import explain_unreachable, probe

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        problem = probe(bootstrap, security)
        if problem:
            raise KafkaUnavailable(
                f"cannot connect to Kafka at KAFKA_BOOTSTRAP_SERVERS={bootstrap!r}: {problem}"
            )
        try:
            consumer = KafkaConsumer(
                bootstrap_servers=_servers(bootstrap),
                request_timeout_ms=5000,
                **dict(security or {}),
            )
            try:
                consumer.topics()
                return
            finally:
                consumer.close()
        except (KafkaError, OSError) as exc:
            last = exc
            time.sleep(0.5)
    raise KafkaUnavailable(explain_unreachable(bootstrap, timeout, last, security))


def topic_partition_counts(
    bootstrap: str, topics: Iterable[str], *, security: Security = None
) -> dict[str, int | None]:
    consumer = KafkaConsumer(bootstrap_servers=_servers(bootstrap), **dict(security or {}))
    try:
        existing = consumer.topics()
        counts: dict[str, int | None] = {}
        for topic in topics:
            parts = consumer.partitions_for_topic(topic) if topic in existing else None
            counts[topic] = len(parts) if parts else None
        return counts
    finally:
        consumer.close()


def ensure_topics(
    bootstrap: str, prefix: str, partitions: int, replication: int = 1, *, security: Security = None
) -> int:
    """Create every contract topic that is missing; return the input partition count.

    Existing input topics decide the partition count (the state table must be
    co-partitioned with them); they must agree with each other.
    """
    inbound = [prefix + name for name in INBOUND_TOPICS]
    outbound = [prefix + name for name in OUTPUT_TOPICS]
    counts = topic_partition_counts(bootstrap, inbound, security=security)
    found = {topic: n for topic, n in counts.items() if n is not None}
    if len(set(found.values())) > 1:
        detail = ", ".join(f"{t}={n}" for t, n in sorted(found.items()))
        raise ValueError(
            f"the input topics have different partition counts ({detail}); per-account state "
            "needs them co-partitioned: recreate them with one count"
        )
    if found:
        partitions = next(iter(found.values()))
    admin = KafkaAdminClient(bootstrap_servers=_servers(bootstrap), **dict(security or {}))
    try:
        for topic in inbound + outbound:
            if counts.get(topic) is not None:
                continue
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(topic, partitions, replication)])
    finally:
        admin.close()
    return partitions


def ensure_changelog_topic(
    bootstrap: str, name: str, partitions: int, replication: int = 1, *, security: Security = None
) -> None:
    """The state changelog: compacted (only each key's latest value matters), with as many
    partitions as the inputs, since partition N holds the state of input partition N."""
    counts = topic_partition_counts(bootstrap, [name], security=security)
    existing = counts.get(name)
    if existing is not None:
        if existing != partitions:
            raise ValueError(
                f"the state changelog {name!r} has {existing} partitions but the input topics "
                f"have {partitions}; they must match (delete the changelog and its local "
                "stores to rebuild it, or recreate the inputs)"
            )
        return
    admin = KafkaAdminClient(bootstrap_servers=_servers(bootstrap), **dict(security or {}))
    try:
        topic = NewTopic(name, partitions, replication, topic_configs={"cleanup.policy": "compact"})
        try:
            admin.create_topics([topic])
        except TopicAlreadyExistsError:
            pass
        except KafkaError:
            # A broker that takes no topic configs (the embedded one never compacts anyway).
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics([NewTopic(name, partitions, replication)])
    finally:
        admin.close()


def make_producer(bootstrap: str, *, security: Security = None) -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=_servers(bootstrap),
        acks="all",
        linger_ms=5,
        retries=5,
        **dict(security or {}),
    )


@dataclass
class Progress:
    consumed: int
    total: int

    @property
    def done(self) -> bool:
        return self.total > 0 and self.consumed >= self.total


def group_progress(
    bootstrap: str, group_id: str, topics: Iterable[str], *, security: Security = None
) -> Progress:
    """How far consumer group `group_id` has committed through `topics`."""
    consumer = KafkaConsumer(
        bootstrap_servers=_servers(bootstrap),
        group_id=group_id,
        enable_auto_commit=False,
        **dict(security or {}),
    )
    try:
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(tps) if tps else {}
        consumed = total = 0
        for tp in tps:
            end = ends.get(tp, 0) or 0
            committed = consumer.committed(tp) or 0
            total += end
            consumed += min(committed, end)
        return Progress(consumed, total)
    finally:
        consumer.close()


def follow(
    bootstrap: str,
    topic: str,
    *,
    from_beginning: bool = False,
    idle_timeout: float | None = None,
    security: Security = None,
) -> Iterator[tuple[bytes | None, bytes, int, int]]:
    """Yield (key, value, partition, offset) from `topic` until idle for idle_timeout."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=_servers(bootstrap),
        auto_offset_reset="earliest" if from_beginning else "latest",
        enable_auto_commit=False,
        group_id=None,
        consumer_timeout_ms=int(idle_timeout * 1000) if idle_timeout else float("inf"),
        **dict(security or {}),
    )
    try:
        for message in consumer:
            yield message.key, message.value, message.partition, message.offset
    finally:
        consumer.close()


def prepare_topics(
    bootstrap: str, prefix: str, partitions: int, replication: int = 1, *, security: Security = None
) -> int:
    """Wait for Kafka, then make sure every contract topic exists; see ensure_topics.

    Raises KafkaUnavailable or ValueError with a message fit for the user."""
    wait_for_kafka(bootstrap, security=security)
    return ensure_topics(bootstrap, prefix, partitions, replication, security=security)
