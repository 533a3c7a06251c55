"""Consuming with manual commits: a batch's offsets are committed only after its handler
returned, i.e. after every task of it was delivered or dead-lettered.

Records of one task share the account key and so one partition: a batch keeps their order,
and `in_task_order` delivers each task's records one after another while different tasks run
concurrently. A crash or a rebalance mid-batch redelivers the batch from the last commit, so
every sink is idempotent (Slack edits the message it keeps per task, webhooks carry an
idempotency key, CRMs upsert by task id).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CommitFailedError, IllegalStateError, TopicAlreadyExistsError

from workers.delivery.messages import DeadLetter, TaskMessage, dead_letter_for, decode
from workers.delivery.retry import DeliveryFailed, Fatal, Stopping

Batch = dict[TopicPartition, list[ConsumerRecord[Any, Any]]]


class Sink(Protocol):
    name: str

    async def deliver(self, batch: list[TaskMessage]) -> list[DeadLetter]:
        """Deliver the batch in task order; return the dead letters of what failed for good.
        Raises Fatal (stop, commit nothing) or Stopping (shutting down)."""
        ...


async def in_task_order(
    batch: list[TaskMessage],
    handle: Callable[[TaskMessage], Awaitable[None]],
    sink: str,
    concurrency: int,
) -> list[DeadLetter]:
    """Run `handle` on each message: one task's messages in order, tasks concurrently.
    A DeliveryFailed becomes a dead letter and the task's later messages still run."""
    chains: dict[str, list[TaskMessage]] = {}
    for message in batch:
        chains.setdefault(message.task_id, []).append(message)
    gate = asyncio.Semaphore(concurrency)
    dead: list[DeadLetter] = []

    async def run(chain: list[TaskMessage]) -> None:
        async with gate:
            for message in chain:
                try:
                    await handle(message)
                except DeliveryFailed as exc:
                    dead.append(
                        dead_letter_for(message, sink, exc.reason, exc.attempts, exc.destination)
                    )

    await run_all(run(chain) for chain in chains.values())
    return dead


async def run_all(jobs: Iterable[Awaitable[None]]) -> None:
    """Run `jobs` concurrently; on an error cancel the rest and raise the most serious one
    (Fatal, then Stopping, then anything else) by itself rather than as a group."""
    try:
        async with asyncio.TaskGroup() as group:
            for job in jobs:
                group.create_task(_await(job))
    except BaseExceptionGroup as errors:
        leaves = list(_leaves(errors))
        for kind in (Fatal, Stopping):
            for error in leaves:
                if isinstance(error, kind):
                    raise error from None
        raise leaves[0] from None


async def _await(job: Awaitable[None]) -> None:
    await job


def _leaves(group: BaseExceptionGroup[BaseException]) -> Iterable[BaseException]:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            yield from _leaves(error)
        else:
            yield error


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, log: Any, group_id: str) -> None:
        self.log = log
        self.group_id = group_id

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.log.info("partitions_revoked", group=self.group_id, partitions=_names(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.log.info("partitions_assigned", group=self.group_id, partitions=_names(assigned))


def _names(partitions: Iterable[TopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}/{tp.partition}" for tp in partitions)


class CommitLoop:
    """getmany -> handler -> commit, until `stop` is set. The handler raising stops the loop
    without a commit (Stopping quietly; anything else propagates)."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topics: list[str],
        group_id: str,
        handler: Callable[[Batch], Awaitable[None]],
        stop: asyncio.Event,
        log: Any,
    ) -> None:
        self.consumer = consumer
        self.handler = handler
        self.stop = stop
        self.log = log
        self.group_id = group_id
        consumer.subscribe(topics, listener=_Listener(log, group_id))

    async def run(self) -> None:
        while not self.stop.is_set():
            batch = await self.consumer.getmany(timeout_ms=300, max_records=500)
            if not batch:
                continue
            try:
                await self.handler(batch)
            except Stopping:
                return
            offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
            try:
                await self.consumer.commit(offsets)
            except (CommitFailedError, IllegalStateError) as exc:
                # The partitions moved during the batch: their new owner redelivers it.
                self.log.warning("commit_failed", group=self.group_id, error=str(exc))


class TaskHandler:
    """A CommitLoop handler: decode task records, let the sink deliver them, publish the dead
    letters (awaiting the broker's acknowledgement) before the batch is committed."""

    def __init__(
        self, sink: Sink, dead_letters: DeadLetterPublisher, log: Any, metrics: Any = None
    ) -> None:
        self.sink = sink
        self.dead_letters = dead_letters
        self.log = log
        self.metrics = metrics  # workers.delivery.metrics.DeliveryMetrics

    async def __call__(self, batch: Batch) -> None:
        started = time.monotonic()
        messages: list[TaskMessage] = []
        dead: list[DeadLetter] = []
        stamps: dict[tuple[str, int, int], int] = {}
        for tp, records in batch.items():
            for record in records:
                item = decode(self.sink.name, tp.topic, tp.partition, record.offset, record.value)
                if isinstance(item, TaskMessage):
                    messages.append(item)
                    stamps[(tp.topic, tp.partition, record.offset)] = record.timestamp
                else:
                    dead.append(item)
        failed = await self.sink.deliver(messages)
        dead.extend(failed)
        await self.dead_letters.publish(dead)
        if self.metrics is not None:
            undelivered = {(d.topic, d.partition, d.offset) for d in failed}
            self.metrics.delivered([t for k, t in stamps.items() if k not in undelivered])
            self.metrics.batch.labels(self.metrics.sink).observe(time.monotonic() - started)


class DeadLetterPublisher:
    def __init__(
        self, producer: AIOKafkaProducer, topic: str, log: Any, metrics: Any = None
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.log = log
        self.metrics = metrics  # workers.delivery.metrics.DeliveryMetrics

    async def publish(self, letters: list[DeadLetter]) -> None:
        pending = []
        for letter in letters:
            pending.append(await self.producer.send(self.topic, letter.to_json(), key=letter.key))
            if self.metrics is not None:
                self.metrics.dead_letter(letter.sink)
            task = letter.task or {}
            self.log.warning(
                "task_dead_lettered",
                sink=letter.sink,
                task_id=task.get("task_id"),
                action=task.get("action"),
                account_id=task.get("account_id"),
                destination=letter.destination,
                attempts=letter.attempts,
                reason=letter.reason,
                topic=self.topic,
            )
        if pending:
            await asyncio.gather(*pending)


async def ensure_topics(
    admin: AIOKafkaAdminClient, names: list[str], partitions: int, replication: int
) -> None:
    """Create the topics in `names` that do not exist yet."""
    existing = set(await admin.list_topics())
    for name in names:
        if name in existing:
            continue
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics([NewTopic(name, partitions, replication)])


__all__ = [
    "Batch",
    "CommitLoop",
    "DeadLetterPublisher",
    "Sink",
    "TaskHandler",
    "dead_letter_for",
    "ensure_topics",
    "in_task_order",
    "run_all",
]
