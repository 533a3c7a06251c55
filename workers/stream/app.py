"""The thin faust shell around the pure core.

One agent reads the four input topics in batches. Per batch it decodes (bad input becomes a
dead letter), folds each account's events through the core once per account, evaluates
time-driven triggers for the partitions whose event-time clock moved, publishes the
outputs, waits for the broker to acknowledge them, and only then writes account state to
the table (its changelog). A crash therefore never loses a task: either the state was not
written and the events are reprocessed (same deterministic task ids), or it was written
after the outputs were safely on the broker.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import redis.asyncio as aioredis
from faust.types import TP, EventT

from config.rules import Rules
from config.settings import Settings
from events.decode import DecodeError, decode_event, make_dead_letter
from events.models import INBOUND_TOPICS, DeadLetter, HealthScore, PlaybookTask
from workers.core.engine import AccountState, Outcome, advance_to, apply_event, new_state
from workers.logs import get_logger
from workers.stream.broker_quirks import CHANGELOG_MARKER_KEY
from workers.stream.clock import PartitionClocks
from workers.stream.codec import decode_account, encode_account
from workers.stream.holding import HeldEvent, hold, release
from workers.stream.ops_metrics import WorkerMetrics
from workers.stream.partitioning import partition_for
from workers.stream.redis_view import RedisView

STATE_TABLE = "account-state"
EVENT_TICK_SECONDS = 1.0


def utcnow() -> datetime:
    return datetime.now(UTC)


def floor_time(moment: datetime, interval: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    steps = (moment - epoch) // interval
    return epoch + steps * interval


@dataclass
class _Account:
    """An account as the worker holds it: core state plus events waiting for the clock."""

    state: AccountState
    held: list[HeldEvent] = field(default_factory=list)


class _BatchOutput:
    """What one batch (or one tick) produced, in publication order."""

    def __init__(self) -> None:
        self.tasks: list[tuple[PlaybookTask, float | None]] = []
        self.health: list[tuple[HealthScore, dict[str, Any]]] = []
        self.touched: set[str] = set()  # accounts whose state or held events changed
        self.dead_letters: list[tuple[bytes, DeadLetter]] = []

    def add(self, state: AccountState, outcome: Outcome, produced_at: float | None) -> None:
        if outcome.tasks or outcome.health:
            self.touched.add(state.account_id)
        facts = state.facts
        for score in outcome.health:
            self.health.append((score, facts))
        for task in outcome.tasks:
            self.tasks.append((task, produced_at))


class SignalWorker:
    def __init__(
        self, settings: Settings, rules: Rules, *, changelog_markers: bool = False
    ) -> None:
        self.settings = settings
        self.changelog_markers = changelog_markers
        self.rules = rules
        self.log = get_logger("cs_signals.worker").bind(worker_id=settings.worker_id)
        self.metrics = WorkerMetrics(worker_id=settings.worker_id, app_id=settings.app_id)
        self.interval = rules.evaluation.interval
        self.clocks = PartitionClocks()
        self.cache: dict[str, _Account] = {}
        self.partition_accounts: dict[int, set[str]] | None = None
        self.held_accounts: dict[int, set[str]] = {}
        self.loaded_partitions: set[int] = set()
        self.partition_counts: dict[str, int] = {}
        self.lock = asyncio.Lock()
        self._redis: RedisView | None = None

        self.app = faust.App(
            settings.app_id,
            broker=[f"kafka://{server}" for server in settings.bootstrap_servers_list],
            store="memory://",
            topic_partitions=settings.topic_partitions,
            topic_replication_factor=settings.topic_replication,
            table_standby_replicas=settings.standby_replicas,
            broker_session_timeout=settings.session_timeout_seconds,
            broker_heartbeat_interval=max(1, settings.session_timeout_seconds // 10),
            broker_rebalance_timeout=settings.rebalance_timeout_seconds,
            consumer_auto_offset_reset="earliest",
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=False,
            producer_acks=-1,
            producer_linger=0.005,
            broker_commit_interval=1.0,
        )
        self.unprefixed = {settings.topic(name): name for name in INBOUND_TOPICS}
        self.inputs = self.app.topic(
            *self.unprefixed,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.topic_partitions,
        )
        self.reroute_topics = {
            name: self.app.topic(name, key_type=bytes, value_type=bytes) for name in self.unprefixed
        }
        self.tasks_topic = self.app.topic(settings.topic("playbook-tasks"))
        self.health_topic = self.app.topic(settings.topic("health-scores"))
        self.dead_topic = self.app.topic(settings.topic("dead-letters"))
        self.metrics_topic = self.app.topic(settings.topic("ops-metrics"))
        # use_partitioner: state is written after the batch is published, outside any one
        # event's context; the producer's murmur2 partitioner puts each account on the
        # changelog partition that matches its input partition (see partitioning.py).
        self.table = self.app.Table(
            STATE_TABLE,
            default=None,
            # bytes keys use the raw codec: the changelog key is the account id itself, so
            # its changelog partition is the account's input partition (json keys would
            # hash differently and restore into the wrong worker after a rebalance).
            key_type=bytes,
            value_type=bytes,
            partitions=settings.topic_partitions,
            use_partitioner=True,
        )
        self.app.agent(self.inputs, name="signals")(self._consume)
        self.app.timer(settings.metrics_interval_seconds)(self._publish_metrics)
        # The event clock also moves when inputs go quiet (the watermark stops waiting for
        # them), so re-tick without new events too.
        self.app.timer(EVENT_TICK_SECONDS)(self._event_tick)
        if settings.time_driven_clock == "event+wall":
            self.app.timer(settings.wall_tick_seconds)(self._wall_tick)
        self.app.on_partitions_revoked.connect(self._on_rebalance)
        self.app.on_partitions_assigned.connect(self._on_rebalance)

    # -- faust callbacks -------------------------------------------------------------------

    async def _on_rebalance(self, sender: Any, *args: Any, **kwargs: Any) -> None:
        # Partitions may have moved: the table (restored from the changelog) is the truth.
        self.cache.clear()
        self.held_accounts.clear()
        self.loaded_partitions.clear()
        self.partition_accounts = None
        self.clocks = PartitionClocks()

    async def _consume(self, stream: faust.StreamT) -> None:
        within = self.settings.batch_within_ms / 1000
        async for events in stream.take_events(self.settings.batch_max, within=within):
            async with self.lock:
                await self._handle_batch(events)

    async def _event_tick(self) -> None:
        await self._tick_all(now=None)

    async def _wall_tick(self) -> None:
        await self._tick_all(now=utcnow())

    async def _tick_all(self, now: datetime | None) -> None:
        async with self.lock:
            output = _BatchOutput()
            for partition in sorted(self._active_partitions()):
                self._tick_partition(partition, output, now=now)
            await self._publish(output)

    # -- the batch -------------------------------------------------------------------------

    async def _handle_batch(self, events: Iterable[EventT]) -> None:
        settings = self.settings
        pending: list[Any] = []
        output = _BatchOutput()
        moved_partitions: set[int] = set()
        for event in events:
            message = event.message
            topic = self.unprefixed.get(message.topic, message.topic)
            raw = message.value
            self.clocks.consumed(message.topic, message.partition, message.offset)
            try:
                model = decode_event(topic, raw, settings.max_event_bytes)
            except DecodeError as exc:
                pending.append(await self._dead_letter(message, raw, exc.error))
                continue
            key = model.account_id.encode("utf-8")
            partitions = self._partition_count(message.topic)
            if message.key != key or message.partition != partition_for(key, partitions):
                # Unkeyed or foreign-partitioned: send it back keyed by account so the
                # partition that owns the account's state processes it.
                self.metrics.rerouted += 1
                pending.append(await self.reroute_topics[message.topic].send(key=key, value=raw))
                continue
            self.metrics.events_in[topic] += 1
            self.clocks.record(message.topic, message.partition, message.offset, model.occurred_at)
            account = self._load(model.account_id, message.partition)
            account.held.append(hold(model, topic, raw, message.timestamp))
            self._holding(message.partition).add(model.account_id)
            output.touched.add(model.account_id)
            moved_partitions.add(message.partition)
        for partition in sorted(moved_partitions):
            self._tick_partition(partition, output)
        self.metrics.batches += 1
        await self._publish(output, pending)

    def _partition_count(self, topic: str) -> int:
        count = self.partition_counts.get(topic)
        if count is None:
            count = self.app.consumer.topic_partitions(topic) or self.settings.topic_partitions
            self.partition_counts[topic] = count
        return count

    def _holding(self, partition: int) -> set[str]:
        return self.held_accounts.setdefault(partition, set())

    def _release(self, partition: int, upto: datetime, output: _BatchOutput) -> None:
        """Apply every held event of `partition` that the clock has reached, in time order."""
        holding = self._holding(partition)
        for account_id in sorted(holding):
            account = self._load(account_id, partition)
            ready, account.held = release(account.held, upto)
            if not account.held:
                holding.discard(account_id)
            if not ready:
                continue
            output.touched.add(account_id)
            for held in ready:
                try:
                    outcome = apply_event(account.state, held.model, self.rules)
                except Exception as exc:  # a bug must cost one event, not the worker
                    self._internal_error(held, exc, output)
                    continue
                if not outcome.applied:
                    self.metrics.duplicates += 1
                    continue
                output.add(account.state, outcome, held.produced_at)

    def _internal_error(self, held: HeldEvent, exc: Exception, output: _BatchOutput) -> None:
        error = (
            f"internal error while processing this event ({type(exc).__name__}: {exc}); "
            "the event is valid, please report this to the cs-signals maintainers"
        )
        self.log.exception(
            "processing_failed",
            account_id=held.model.account_id,
            event_id=held.model.event_id,
            source_topic=held.topic,
        )
        self.metrics.dead_letters[held.topic] += 1
        letter = make_dead_letter(held.topic, None, None, held.raw, error, received_at=utcnow())
        output.dead_letters.append((held.model.account_id.encode(), letter))

    def _tick_partition(
        self, partition: int, output: _BatchOutput, now: datetime | None = None
    ) -> None:
        """Apply the held events the clock has reached, then evaluate every account of the
        partition at the clock's boundary (time-driven triggers)."""
        if partition not in self.loaded_partitions:
            # After a rebalance: load the partition's accounts so their held events count.
            for account_id in self._accounts_in(partition):
                self._load(account_id, partition)
            self.loaded_partitions.add(partition)
        watermark = self.clocks.watermark(partition, self._highwater)
        if watermark is not None:
            self._release(partition, watermark, output)
        if now is None:
            now = watermark
        elif watermark is not None:
            now = max(now, watermark)
        if now is None:
            return
        boundary = floor_time(now, self.interval)
        reached = boundary.timestamp()
        for account_id in sorted(self._accounts_in(partition)):
            state = self._load(account_id, partition).state
            if state.last_boundary is not None and state.last_boundary >= reached:
                continue  # already evaluated there (by its own events or an earlier tick)
            outcome = advance_to(state, boundary, self.rules)
            self.metrics.time_driven_evaluations += 1
            output.add(state, outcome, None)

    async def _publish(self, output: _BatchOutput, pending: list[Any] | None = None) -> None:
        # Taken before the first await: a rebalance may clear the cache while we wait.
        touched = {account_id: self.cache[account_id] for account_id in sorted(output.touched)}
        futures = list(pending or [])
        for key, letter in output.dead_letters:
            futures.append(await self.dead_topic.send(key=key, value=letter.to_json_bytes()))
        for score, _facts in output.health:
            futures.append(
                await self.health_topic.send(
                    key=score.account_id.encode(), value=score.to_json_bytes()
                )
            )
        for task, _produced in output.tasks:
            futures.append(
                await self.tasks_topic.send(
                    key=task.account_id.encode(), value=task.to_json_bytes()
                )
            )
        if futures:
            # Delivery first, state second: see the module docstring.
            await asyncio.gather(*futures)
        for account_id, account in touched.items():
            self.table[account_id.encode()] = encode_account(account.state, account.held)
        if self.changelog_markers and output.touched:
            await self._close_changelog_batches(touched)
        if output.tasks or output.health:
            await self._write_view(output)
        now = time.time()
        for task, produced_at in output.tasks:
            self.metrics.tasks_out[task.playbook][task.action] += 1
            if produced_at is not None:
                self.metrics.observe_latency(max(0.0, (now - produced_at) * 1000))
            self.log.info(
                "task",
                action=task.action,
                task_id=task.task_id,
                account_id=task.account_id,
                playbook=task.playbook,
                priority=task.priority,
                owner_id=task.owner_id,
                due_at=task.due_at.isoformat(),
                reason=task.reason,
            )
        self.metrics.health_scores_out += len(output.health)

    async def _write_view(self, output: _BatchOutput) -> None:
        """The Redis view is derived from the topics, which stay the source of truth: a
        Redis outage is retried briefly, then logged, and never stops the stream."""
        for attempt in range(3):
            try:
                await self._view().write(output.health, (task for task, _ in output.tasks))
                return
            except Exception as exc:
                self.log.warning("redis_write_failed", attempt=attempt + 1, error=str(exc))
                await asyncio.sleep(0.2 * (attempt + 1))
        self.metrics.redis_write_failures += 1
        self.log.error(
            "redis_view_out_of_date",
            tasks=len(output.tasks),
            health_scores=len(output.health),
        )

    async def _close_changelog_batches(self, accounts: Iterable[str]) -> None:
        """Follow this batch's state writes with a lone marker record per partition (Tansu).

        Flushing first guarantees the marker starts a batch of its own; awaiting it (under the
        batch lock) guarantees nothing joins that batch. See broker_quirks.py.
        """
        await self.app.producer.flush()
        changelog = self.table.changelog_topic
        partitions = sorted({self._owner(account) for account in accounts})
        futures = [
            await changelog.send(key=CHANGELOG_MARKER_KEY, value=b"", partition=partition)
            for partition in partitions
        ]
        await asyncio.gather(*futures)

    async def _dead_letter(self, message: Any, raw: bytes | None, error: str) -> Any:
        topic = self.unprefixed.get(message.topic, message.topic)
        letter = make_dead_letter(
            topic, message.partition, message.offset, raw, error, received_at=utcnow()
        )
        self.metrics.dead_letters[topic] += 1
        self.log.warning(
            "dead_letter",
            source_topic=topic,
            partition=message.partition,
            offset=message.offset,
            key=message.key.decode("utf-8", "replace") if message.key else None,
            error=error,
            payload_size=letter.payload_size,
        )
        return await self.dead_topic.send(key=message.key, value=letter.to_json_bytes())

    # -- state -----------------------------------------------------------------------------

    def _load(self, account_id: str, partition: int) -> _Account:
        account = self.cache.get(account_id)
        if account is None:
            stored = self.table.get(account_id.encode())
            if stored:
                state, held_raw = decode_account(stored)
                account = _Account(state, [self._rehold(topic, raw) for topic, raw in held_raw])
                if account.held:
                    self._holding(partition).add(account_id)
            else:
                account = _Account(new_state(account_id))
            self.cache[account_id] = account
            if self.partition_accounts is not None:
                self.partition_accounts.setdefault(partition, set()).add(account_id)
        return account

    def _rehold(self, topic: str, raw: bytes) -> HeldEvent:
        # These bytes were validated before they were held; the same rules still apply.
        return hold(decode_event(topic, raw, 1 << 62), topic, raw, None)

    def _active_partitions(self) -> set[int]:
        assigned = self.app.assignor.assigned_actives()
        return {tp.partition for tp in assigned if tp.topic in self.unprefixed}

    def _accounts_in(self, partition: int) -> set[str]:
        if self.partition_accounts is None:
            # Built lazily after each rebalance from the restored table.
            index: dict[int, set[str]] = {}
            for key in self.table:
                if key == CHANGELOG_MARKER_KEY:
                    continue
                account = key.decode() if isinstance(key, bytes) else str(key)
                part = partition_for(account.encode(), self.settings.topic_partitions)
                index.setdefault(part, set()).add(account)
            index.update(
                {
                    p: index.get(p, set()) | {a for a in self.cache if self._owner(a) == p}
                    for p in self._active_partitions()
                }
            )
            self.partition_accounts = index
        return self.partition_accounts.get(partition, set())

    def _owner(self, account_id: str) -> int:
        return partition_for(account_id.encode(), self.settings.topic_partitions)

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(TP(topic, partition))
        except Exception:
            return None
        return value if isinstance(value, int) and value >= 0 else None

    def _view(self) -> RedisView:
        if self._redis is None:
            client = aioredis.Redis.from_url(self.settings.redis_url)
            self._redis = RedisView(client, self.settings.redis_prefix, self.settings.feed_maxlen)
        return self._redis

    # -- ops metrics -----------------------------------------------------------------------

    async def _consumer_lag(self) -> dict[str, int]:
        lag: dict[str, int] = {}
        consumer = self.app.consumer
        for tp in sorted(consumer.assignment()):
            if tp.topic not in self.unprefixed:
                continue
            end = self._highwater(tp.topic, tp.partition)
            position = await consumer.position(tp)
            if end is not None and position is not None:
                lag[f"{self.unprefixed[tp.topic]}/{tp.partition}"] = max(0, end - position)
        return lag

    async def _publish_metrics(self) -> None:
        try:
            lag = await self._consumer_lag()
        except Exception as exc:  # lag is best effort; the rest of the snapshot is not
            self.log.warning("consumer_lag_unavailable", error=str(exc))
            lag = {}
        active = sorted(self._active_partitions())
        snapshot = self.metrics.snapshot(
            at=utcnow().isoformat(),
            interval_seconds=self.settings.metrics_interval_seconds,
            consumer_lag=lag,
            assigned_partitions=active,
            events_held=sum(len(account.held) for account in self.cache.values()),
            event_clock={
                p: (wm.isoformat() if (wm := self.clocks.watermark(p, self._highwater)) else None)
                for p in active
            },
        )
        await self.metrics_topic.send(
            key=self.settings.worker_id.encode(), value=json.dumps(snapshot).encode()
        )
        try:
            await self._view().write_worker_metrics(self.settings.worker_id, snapshot)
        except Exception as exc:
            self.log.warning("redis_metrics_write_failed", error=str(exc))
