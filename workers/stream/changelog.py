"""The state changelog: how a batch's state changes reach Kafka, and how a partition's local
store is brought up to date from it (recovery).

Writing (one batch): every changed key is sent to the changelog partition of its account,
the records are awaited, and then one *commit marker* per partition is sent and awaited. The
marker's value is the offset of the batch's first record in that partition. A worker killed
half-way through a batch leaves records with no marker after them: recovery drops them, so a
restored partition is always the state after some whole batch, never a mix of two. (The
marker, alone in its own record batch, also keeps Tansu's end offsets honest; see
broker_quirks.py.)

Recovery (on assignment, and after a failed batch): read the partition from the offset the
local store is current with to the end, apply each batch's records when its marker arrives,
and store them with the marker's offset. A cold start (empty store) reads from the beginning.
Records written by the first release (a bare account id holding the whole account, zlib'd
JSON) are migrated on the way in (workers/core/codec.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from workers.core.codec import decode_state, encode_state
from workers.core.users import encode_user
from workers.stream import keys
from workers.stream.broker_quirks import CHANGELOG_MARKER_KEY
from workers.stream.holding import encode_held, rehold
from workers.stream.store import PartitionStore

# Recovery writes to the local store in slices this big, so a cold start of a large book
# does not hold the whole partition in memory.
_FLUSH_EVERY = 20_000


def changelog_topic(app_id: str) -> str:
    # The first release's faust table changelog name: an upgraded worker finds its state.
    return f"{app_id}-account-state-changelog"


async def write_changes(
    producer: AIOKafkaProducer, topic: str, changes: Mapping[int, Mapping[bytes, bytes | None]]
) -> dict[int, int]:
    """Send `changes` (partition -> key -> value, None = delete), then a commit marker per
    partition; return partition -> the marker's offset. Raises if anything was not delivered.
    """
    records = await send_records(producer, topic, changes)
    return await send_markers(producer, topic, await records)


async def send_records(
    producer: AIOKafkaProducer, topic: str, changes: Mapping[int, Mapping[bytes, bytes | None]]
) -> Awaitable[dict[int, int]]:
    """Hand `changes` to the producer; return an awaitable of partition -> offset of the
    partition's first record, done when the broker acknowledged every record (it raises if
    any was not delivered). The commit markers (`send_markers`) go only after that.

    Records go out in record batches built here (`create_batch`/`send_batch`): per record that
    costs a fraction of a `send`, and a batch's thousands of user records are the hot path.
    Each builder is closed before it is submitted, so it goes out at once instead of waiting
    for the producer's linger time.
    """
    pending: list[tuple[int, Awaitable[Any]]] = []
    for partition, records in changes.items():
        builder = producer.create_batch()
        count = 0
        for key, value in records.items():
            if builder.append(key=key, value=value, timestamp=None) is None:
                if count:
                    pending.append((partition, await _submit(producer, builder, topic, partition)))
                builder = producer.create_batch()
                count = 0
                if builder.append(key=key, value=value, timestamp=None) is None:
                    # larger than a whole batch: a send of its own
                    future = await producer.send(topic, value, key=key, partition=partition)
                    pending.append((partition, future))
                    continue
            count += 1
        if count:
            pending.append((partition, await _submit(producer, builder, topic, partition)))

    async def acknowledged() -> dict[int, int]:
        results = await asyncio.gather(*(future for _, future in pending))
        first: dict[int, int] = {}
        for (partition, _), meta in zip(pending, results, strict=True):
            if partition not in first or meta.offset < first[partition]:
                first[partition] = meta.offset
        return {partition: first.get(partition, 0) for partition in changes}

    return acknowledged()


async def send_markers(
    producer: AIOKafkaProducer, topic: str, first: Mapping[int, int]
) -> dict[int, int]:
    """One commit marker per partition (value: the offset of the batch's first record there),
    each in a batch of its own; call only once every record was acknowledged. Returns
    partition -> the marker's offset."""
    markers = []
    for partition, offset in first.items():
        builder = producer.create_batch()
        builder.append(key=keys.COMMIT, value=str(offset).encode(), timestamp=None)
        markers.append((partition, await _submit(producer, builder, topic, partition)))
    done = await asyncio.gather(*(future for _, future in markers))
    return {partition: meta.offset for (partition, _), meta in zip(markers, done, strict=True)}


async def _submit(producer: AIOKafkaProducer, builder: Any, topic: str, partition: int) -> Any:
    builder.close()  # complete: no linger (aiokafka sends a closed batch when it is drained)
    return await producer.send_batch(builder, topic, partition=partition)


@dataclass
class RecoveryReport:
    partition: int
    start_offset: int
    records: int
    applied: int
    dropped: int  # records of a batch that never got its commit marker
    migrated_accounts: int  # first-release records converted on the way in
    seconds: float
    store: PartitionStore  # the store now current (a new one when a stale one was reset)


def migrate_v1_record(account_id: str, value: bytes | None) -> dict[bytes, bytes | None]:
    """A first-release account record as v2 keys (a tombstone deletes only the account key:
    v1 kept no other keys)."""
    if value is None:
        return {keys.account_key(account_id): None}
    decoded = decode_state(value)
    out: dict[bytes, bytes | None] = {keys.account_key(account_id): encode_state(decoded.state)}
    for user_id, record in decoded.users.items():
        out[keys.user_key(account_id, user_id)] = encode_user(record)
    if decoded.held:
        out[keys.held_key(account_id)] = encode_held([rehold(t, raw) for t, raw in decoded.held])
    return out


async def recover(
    consumer: AIOKafkaConsumer,
    topic: str,
    partition: int,
    store: PartitionStore,
    reset: Callable[[PartitionStore], PartitionStore],
    *,
    idle_ms: int = 100,
) -> RecoveryReport:
    """Bring `store` up to date with changelog `topic` partition `partition`."""
    began = time.monotonic()
    tp = TopicPartition(topic, partition)
    start = store.changelog_offset() + 1
    consumer.assign([tp])
    end = (await consumer.end_offsets([tp]))[tp]
    if start > end:
        # The local store is ahead of the changelog: the topic was deleted and recreated (or
        # this data directory belongs to another cluster). The changelog is the truth.
        store = reset(store)
        start = 0
    consumer.seek(tp, start)
    pending: list[tuple[int, bytes, bytes | None]] = []
    ready: dict[bytes, bytes | None] = {}
    committed = start - 1
    report = RecoveryReport(partition, start, 0, 0, 0, 0, 0.0, store)
    while True:
        batch = await consumer.getmany(tp, timeout_ms=idle_ms, max_records=10_000)
        records = batch.get(tp, [])
        if not records:
            if await consumer.position(tp) >= end:
                break
            continue
        for record in records:
            report.records += 1
            key = record.key
            if key == keys.COMMIT:
                first = int(record.value or b"0")
                for offset, k, v in pending:
                    if offset >= first:
                        ready[k] = v
                        report.applied += 1
                    else:
                        report.dropped += 1
                pending.clear()
                committed = record.offset
            elif keys.is_v2(key):
                pending.append((record.offset, key, record.value))
            elif key == CHANGELOG_MARKER_KEY or key is None:
                committed = record.offset  # the first release's end-of-batch marker
            else:
                ready.update(migrate_v1_record(key.decode(), record.value))
                report.migrated_accounts += 1
                committed = record.offset
        if len(ready) >= _FLUSH_EVERY:
            store.write(ready, committed)
            ready = {}
    report.dropped += len(pending)
    store.write(ready, committed if committed >= start else None)
    consumer.unsubscribe()
    report.seconds = time.monotonic() - began
    return report
