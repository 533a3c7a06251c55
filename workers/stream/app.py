"""The thin faust shell around the pure core.

One agent reads the input topics in batches. Per batch it decodes (bad input becomes a dead
letter), holds each valid event until its partition's clock (clock.py) passes it, applies the
released events to their accounts through the core in event-time order, evaluates the
accounts whose scheduled time has come (schedule.py), and then commits (checkpoint order
after quixstreams):

1. publish the outputs (dead letters, re-routed events, health scores, tasks) and send the
   changed state keys (keys.py) to the changelog, both in flight together, and wait until the
   broker acknowledged every one of them;
2. then one commit marker per partition, and wait for them (changelog.py): the markers are
   what commits the state, so no state is committed before its outputs are out;
3. write the same changes to the local RocksDB store with the marker's offset (store.py);
4. only then let faust acknowledge the batch's input offsets.

Failure semantics: nothing acknowledges a batch whose outputs and state were not both saved.
Any failure in steps 0-3 (a producer error, a store error, an exception in the core) rolls
the touched partitions back to their committed state (recovered from the changelog up to its
last commit marker) and retries the whole batch; an event on which the core itself raises is
set aside on the retry as a dead letter ("internal error"), so one bad event cannot block a
partition. After `_MAX_ATTEMPTS` failed attempts in a row the worker stops at once, without
acknowledging, and its supervisor restarts it from the last committed offsets. faust acks a
batch in a `finally`, so the handler never lets an exception escape.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP, EventT

from config.rules import Rules
from config.security import aiokafka_options, faust_credentials, redis_options
from config.settings import Settings
from events.decode import DecodeError, decode_event, make_dead_letter
from events.models import (
    INBOUND_TOPICS,
    AccountEvent,
    ActivityEvent,
    DeadLetter,
    TaskFeedback,
)
from workers.core.codec import decode_state
from workers.core.engine import AccountState, advance_to, apply_event, new_state, next_due
from workers.logs import get_logger
from workers.stream import keys
from workers.stream.broker_quirks import limit_fetch_wait
from workers.stream.cache import AccountCache, CachedAccount
from workers.stream.changelog import changelog_topic, send_markers, send_records
from workers.stream.clock import FACT_TOPICS
from workers.stream.csm_load import count_load, touch_of
from workers.stream.faults import FaultInjector
from workers.stream.holding import HeldEvent, hold, release
from workers.stream.ops_metrics import WorkerMetrics
from workers.stream.outputs import BatchOutput, OutputTopics, Publisher
from workers.stream.ownership import OwnedPartitions
from workers.stream.partition import PartitionState, StoreUsers
from workers.stream.partitioning import partition_for
from workers.stream.prometheus import LiveGauges, PrometheusExporter
from workers.stream.state_changes import collect_changes
from workers.stream.store import LocalStores
from workers.stream.view_state import record_views
from workers.stream.view_writer import ViewWriter
from workers.stream.worker_snapshot import build_snapshot, consumer_lag, oldest_held_age

EVENT_TICK_SECONDS = 1.0
FETCH_MAX_WAIT_MS = 50  # see broker_quirks.limit_fetch_wait
VIEW_CHECK_SECONDS = 2.0
_MAX_ATTEMPTS = 5
EXIT_BATCH_FAILED = 70


def utcnow() -> datetime:
    return datetime.now(UTC)


class BatchFailed(Exception):
    """A batch could not be committed; it is rolled back and retried."""


class SignalWorker:
    def __init__(self, settings: Settings, rules: Rules) -> None:
        self.settings = settings
        self.rules = rules
        self.log = get_logger("cs_signals.worker").bind(worker_id=settings.worker_id)
        self.metrics = WorkerMetrics(worker_id=settings.worker_id, app_id=settings.app_id)
        self.cache = AccountCache(settings.state_cache_size)
        self.parts = OwnedPartitions(
            LocalStores(settings.data_dir, settings.app_id),
            self.cache,
            changelog_topic(settings.app_id),
            settings.bootstrap_servers_list,
            self.metrics,
            self.log,
            client_options=aiokafka_options(settings),
        )
        self.partition_counts: dict[str, int] = {}
        self.lock = asyncio.Lock()
        self.faults = FaultInjector.from_env()
        # partitions whose inputs were all seen caught up once: their clock may follow the wall
        self._wall_ready: set[int] = set()
        self.poisoned: set[str] = set()  # event ids the core raised on (dead-lettered on retry)
        self.view_writer = ViewWriter(
            settings.redis_url,
            settings.redis_prefix,
            settings.feed_maxlen,
            self.metrics,
            self.log,
            records=self._view_records,
            owns=lambda account: self._owner(account) in self.parts.owned,
            worker_id=settings.worker_id,
            redis_options=redis_options(settings),
        )
        self.changelog = changelog_topic(settings.app_id)

        limit_fetch_wait(FETCH_MAX_WAIT_MS)
        self.app = faust.App(
            settings.app_id,
            broker=[f"kafka://{server}" for server in settings.bootstrap_servers_list],
            # KAFKA_SECURITY_PROTOCOL / SASL / SSL for every client faust creates
            broker_credentials=faust_credentials(settings),
            store="memory://",
            # faust's own scratch directory (it keeps no tables here): beside our store.
            datadir=str(settings.data_dir / settings.app_id / "faust"),
            topic_partitions=settings.topic_partitions,
            topic_replication_factor=settings.topic_replication,
            broker_session_timeout=settings.session_timeout_seconds,
            broker_heartbeat_interval=max(1, settings.session_timeout_seconds // 10),
            broker_rebalance_timeout=settings.rebalance_timeout_seconds,
            consumer_auto_offset_reset="earliest",
            consumer_group_instance_id=(settings.worker_id if settings.static_membership else None),
            key_serializer="raw",
            value_serializer="raw",
            web_enabled=False,
            producer_acks=-1,
            # Outputs are sent together and awaited at once (no more come): lingering only
            # delays the batch's commit.
            producer_linger=0.0,
            broker_commit_interval=1.0,
        )
        self.unprefixed = {settings.topic(name): name for name in INBOUND_TOPICS}
        self.inputs = self.app.topic(
            *self.unprefixed,
            key_type=bytes,
            value_type=bytes,
            partitions=settings.topic_partitions,
        )
        self.metrics_topic = settings.topic("ops-metrics")
        self.publisher = Publisher(
            lambda *args: self.app.producer.send(*args),
            OutputTopics(
                tasks=settings.topic("playbook-tasks"),
                health=settings.topic("health-scores"),
                dead_letters=settings.topic("dead-letters"),
            ),
        )
        self._last_lag: dict[str, int] = {}
        self.prometheus = PrometheusExporter(
            self.metrics,
            LiveGauges(
                held=lambda: sum(p.held_count() for p in self.parts.owned_and_loaded()),
                oldest_held_age=lambda: oldest_held_age(self.parts.owned_and_loaded()),
                consumer_lag=lambda: self._last_lag,
                cache=lambda: (len(self.cache), self.cache.hits, self.cache.misses),
                store_bytes=lambda: sum(
                    p.store.approximate_bytes() for p in self.parts.owned_and_loaded()
                ),
                scheduled=lambda: sum(len(p.schedule) for p in self.parts.owned_and_loaded()),
                view_repairs=lambda: self.view_writer.repairs,
            ),
        )
        self.app.agent(self.inputs, name="signals")(self._consume)
        self.app.timer(settings.metrics_interval_seconds)(self._publish_metrics)
        self.app.timer(EVENT_TICK_SECONDS)(self._tick)
        self.app.timer(VIEW_CHECK_SECONDS)(self.view_writer.check)
        self.app.timer(settings.view_sweep_seconds)(self._sweep_view)
        self.app.on_partitions_revoked.connect(self._on_revoked)
        self.app.on_partitions_assigned.connect(self._on_assigned)

    # -- partitions ------------------------------------------------------------------------

    def _input_partitions(self, tps: Iterable[TP]) -> set[int]:
        return {tp.partition for tp in tps if tp.topic in self.unprefixed}

    async def _on_revoked(self, sender: Any, revoked: Iterable[TP], **_: Any) -> None:
        # faust revokes everything at each rebalance (the eager protocol); waiting for the
        # lock lets an in-flight batch commit first. What to drop is decided on assignment.
        async with self.lock:
            pass

    async def _on_assigned(self, sender: Any, assigned: Iterable[TP], **_: Any) -> None:
        # A rebalance keeps what this worker still owns (its partitions stay loaded, its
        # cache warm); partitions it lost are dropped, new ones load on first use (_partition)
        # -- at the latest at the next tick, so restored held events are never stranded.
        async with self.lock:
            owned = self._input_partitions(assigned)
            self._wall_ready &= owned & self.parts.owned
            self.parts.assign(owned)

    # -- faust callbacks -------------------------------------------------------------------

    async def _consume(self, stream: faust.StreamT) -> None:
        within = self.settings.batch_within_ms / 1000
        async for events in stream.take_events(self.settings.batch_max, within=within):
            async with self.lock:
                await self._run(events)

    async def _tick(self) -> None:
        async with self.lock:
            for number in sorted(self.parts.owned - self._wall_ready):
                if await self.parts.inputs_caught_up(
                    number, self.app.consumer, self.unprefixed, self._highwater
                ):
                    self._wall_ready.add(number)
            await self._run(())

    async def _run(self, events: Sequence[EventT]) -> None:
        """Process and commit one batch (or a tick, with no events), retrying from the last
        committed state on failure. Never raises (see the module docstring)."""
        for attempt in range(1, _MAX_ATTEMPTS + 1):
            output = BatchOutput()
            began = time.monotonic()
            try:
                await self._process(events, output)
                await self._commit(output)
                if events:
                    self.prometheus.batch.observe(time.monotonic() - began)
            except Exception as exc:
                self.metrics.batch_retries += 1
                self.log.error(
                    "batch_failed",
                    attempt=attempt,
                    events=len(events),
                    error=f"{type(exc).__name__}: {exc}",
                    exc_info=not isinstance(exc, BatchFailed),
                )
                try:
                    self.parts.forget(output.partitions | self._partitions_of(events))
                except Exception:
                    self.log.exception("rollback_failed")
                await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
                continue
            self.publisher.batch_committed()
            self._after_commit(output)
            return
        self.log.critical(
            "stopping_without_ack",
            reason=f"the batch failed {_MAX_ATTEMPTS} times; restart resumes from the last "
            "committed offsets",
        )
        os._exit(EXIT_BATCH_FAILED)

    def _partitions_of(self, events: Sequence[EventT]) -> set[int]:
        return {event.message.partition for event in events}

    # -- processing ------------------------------------------------------------------------

    async def _process(self, events: Sequence[EventT], output: BatchOutput) -> None:
        settings = self.settings
        moved: set[int] = set()
        for event in events:
            message = event.message
            topic = self.unprefixed.get(message.topic, message.topic)
            raw = message.value
            part = self.parts.get(message.partition) or await self.parts.load(message.partition)
            try:
                model = decode_event(topic, raw, settings.max_event_bytes)
            except DecodeError as exc:
                part.clock.record(topic, message.offset, None, topic in FACT_TOPICS, _mono())
                part.clock_dirty = True
                output.partitions.add(part.number)
                self._dead_letter(message, topic, raw, exc.error, output)
                continue
            key = model.account_id.encode("utf-8")
            partitions = self._partition_count(message.topic)
            if message.key != key or message.partition != partition_for(key, partitions):
                # Unkeyed or foreign-partitioned: send it back keyed by account so the
                # partition that owns the account's state processes it.
                part.clock.record(topic, message.offset, None, topic in FACT_TOPICS, _mono())
                part.clock_dirty = True
                output.partitions.add(part.number)
                self.metrics.rerouted += 1
                output.reroutes.append((message.topic, key, raw))
                continue
            self.metrics.events_in[topic] += 1
            occurred = model.occurred_at.timestamp()
            part.clock.record(topic, message.offset, occurred, topic in FACT_TOPICS, _mono())
            part.clock_dirty = True
            if part.clock.reached is not None and occurred < part.clock.reached:
                self.metrics.late_events += 1
            part.hold(model.account_id, hold(model, topic, raw, message.timestamp))
            output.partitions.add(part.number)
            moved.add(part.number)
        for number in sorted(self.parts.owned | moved):
            await self._advance(await self.parts.load(number), output)
        self.metrics.batches += 1 if events else 0

    async def _advance(self, part: PartitionState, output: BatchOutput) -> None:
        """Release what the partition's clock has reached, then run the evaluations due."""
        wall = time.time()
        clock = part.clock.compute(
            part.number,
            self._highwater,
            wall=wall,
            lateness=(
                self.settings.allowed_lateness_seconds if part.number in self._wall_ready else None
            ),
        )
        clock = self._bound_held(part, clock)
        if clock is None:
            return
        upto = datetime.fromtimestamp(clock, UTC)
        released: list[tuple[tuple[datetime, int, str], str, HeldEvent]] = []
        for account_id in sorted(part.held):
            ready, rest = release(part.held[account_id], upto)
            if ready:
                part.released(account_id, rest)
                released.extend((held.sort_key, account_id, held) for held in ready)
        if released:
            output.partitions.add(part.number)
            # In event-time order across the partition's accounts, as `backtest` applies
            # them: an evaluation then reads a book baseline (workers/core/book.py) that
            # holds every earlier day of the partition, whatever the batching.
            released.sort(key=lambda r: (r[0], r[1]))
            applied: dict[str, CachedAccount] = {}
            for _key, account_id, held in released:
                account = applied.get(account_id)
                if account is None:
                    account = applied[account_id] = self._load(account_id, part)
                    output.touched.add(account_id)
                self._apply(account.state, held, output)
            for account_id, account in applied.items():
                part.reschedule(account_id, next_due(account.state, self.rules))
        interval = self.rules.evaluation.interval.total_seconds()
        boundary = clock // interval * interval
        due = part.schedule.pop_due(boundary, self.settings.evaluations_per_tick)
        for account_id in due:
            account = self._load(account_id, part)
            output.touched.add(account_id)
            output.partitions.add(part.number)
            try:
                outcome = advance_to(account.state, upto, self.rules)
            except Exception as exc:
                if account_id in self.poisoned:
                    # Failed before on this account: skip this evaluation, keep the rest
                    # of the book moving, try again at the next boundary.
                    self.log.exception("evaluation_failed", account_id=account_id)
                    part.reschedule(account_id, boundary + interval)
                    continue
                self.poisoned.add(account_id)
                raise BatchFailed(f"evaluation of {account_id} raised {exc!r}") from exc
            self.metrics.time_driven_evaluations += 1
            output.add(account.state, outcome, None)
            part.reschedule(account_id, next_due(account.state, self.rules))

    def _bound_held(self, part: PartitionState, clock: float | None) -> float | None:
        """Held events are bounded: past `CS_MAX_HELD_EVENTS` in a partition (an input stuck
        far behind the others), the clock is moved up to release the oldest ones, in order."""
        cap = self.settings.max_held_events
        count = part.held_count()
        forced = part.release_point(cap)
        if forced is None or (clock is not None and forced <= clock):
            return clock
        part.clock.reached = forced
        self.metrics.forced_releases += count - cap
        self.log.warning(
            "held_events_over_limit",
            partition=part.number,
            held=count,
            limit=cap,
            clock_moved_to=datetime.fromtimestamp(forced, UTC).isoformat(),
        )
        return forced

    def _apply(self, state: AccountState, held: HeldEvent, output: BatchOutput) -> None:
        event_id = held.model.event_id
        if event_id in self.poisoned:
            self.poisoned.discard(event_id)
            self._internal_error(held, output)
            return
        try:
            self.faults.check("core")
            outcome = apply_event(state, held.model, self.rules)
        except Exception as exc:
            # The state may be half-mutated: roll the batch back, and set this event aside
            # as a dead letter on the retry.
            self.poisoned.add(event_id)
            self.log.exception(
                "processing_failed", account_id=held.model.account_id, event_id=event_id
            )
            raise BatchFailed(f"the core raised on event {event_id!r}: {exc!r}") from exc
        if not outcome.applied:
            self.metrics.duplicates += 1
            return
        model = held.model
        if isinstance(model, TaskFeedback):
            kind = f"dismissed:{model.reason}" if model.action == "dismissed" else model.action
            self.metrics.feedback[model.playbook][kind] += 1
        elif isinstance(model, ActivityEvent) and (touch := touch_of(model)) is not None:
            output.touches.append(touch)  # the CSM load view
        elif isinstance(model, AccountEvent):
            output.books[model.account_id] = state.facts  # the CSM load view: its owner
        output.add(state, outcome, held.produced_at)

    def _internal_error(self, held: HeldEvent, output: BatchOutput) -> None:
        error = (
            "internal error while processing this event; the event is valid, please report "
            "this to the cs-signals maintainers (the worker's log has the details)"
        )
        self.metrics.dead_letters[held.topic] += 1
        letter = make_dead_letter(held.topic, None, None, held.raw, error, received_at=utcnow())
        identity = f"internal\x00{held.topic}\x00{held.model.event_id}".encode()
        output.dead_letters.append(
            (identity, held.model.account_id.encode(), letter.to_json_bytes())
        )

    def _dead_letter(
        self, message: Any, topic: str, raw: bytes | None, error: str, output: BatchOutput
    ) -> None:
        letter: DeadLetter = make_dead_letter(
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
        identity = f"dead\x00{message.topic}\x00{message.partition}\x00{message.offset}".encode()
        output.dead_letters.append((identity, message.key, letter.to_json_bytes()))

    def _partition_count(self, topic: str) -> int:
        count = self.partition_counts.get(topic)
        if count is None:
            count = self.app.consumer.topic_partitions(topic) or self.settings.topic_partitions
            self.partition_counts[topic] = count
        return count

    # -- state -----------------------------------------------------------------------------

    def _load(self, account_id: str, part: PartitionState) -> CachedAccount:
        entry = self.cache.get(account_id)
        if entry is None:
            stored = part.store.get(keys.account_key(account_id))
            state = decode_state(stored).state if stored else new_state(account_id)
            state.users = StoreUsers(part, account_id)
            entry = CachedAccount(state, part.number, stored)
            self.cache.put(account_id, entry)
        # The partition's book, which a rollback reloads with the partition (never cached).
        entry.state.book = part.book if self.rules.book_baseline.enabled else None
        return entry

    # -- commit ----------------------------------------------------------------------------

    async def _commit(self, output: BatchOutput) -> None:
        self.faults.check("produce")
        # Outputs first: once the state says an event was applied, its tasks are out. They
        # are handed to the producer now and the changelog records right after, so both are
        # in flight together; the commit markers, which are what commits the state
        # (changelog.py), go only once both were acknowledged.
        outputs = asyncio.ensure_future(await self.publisher.send(output))
        try:
            offsets, encoded = await self._write_state(output, outputs)
        except BaseException:
            # Whatever else failed, know which outputs were delivered before the retry.
            await asyncio.wait([outputs])
            if not outputs.cancelled():
                outputs.exception()  # retrieved: the other failure is the one raised
            raise
        if offsets is None:
            return
        self.faults.check("store")
        for number, offset in offsets.items():
            self.parts.loaded[number].committed(offset)
        for account_id, raw in encoded.items():
            entry = self.cache.get(account_id)
            if entry is not None:
                entry.stored = raw
            self.metrics.state_writes += 1
            self.metrics.state_bytes_written += len(raw)
            self.metrics.largest_state_write = max(self.metrics.largest_state_write, len(raw))

    async def _write_state(
        self, output: BatchOutput, outputs: asyncio.Future[None]
    ) -> tuple[dict[int, int] | None, dict[str, bytes]]:
        """Send the batch's state changes to the changelog while `outputs` are in flight;
        once both were acknowledged, the commit markers. Returns partition -> marker offset
        (None when no state changed: then only the outputs are awaited) and the account
        values written."""
        record_views(output.facts, output.health, output.tasks, self._partition_of_cached)
        encoded, changes = collect_changes(
            output.touched, output.partitions, self.cache, self.parts
        )
        if not changes:
            await outputs
            return None, encoded
        self.faults.check("changelog")

        # faust's transport producer wraps aiokafka's; record batches are built on the latter.
        producer = self.app.producer._ensure_producer()
        records = await send_records(producer, self.changelog, changes)
        done = await asyncio.gather(outputs, records, return_exceptions=True)
        for result in done:
            if isinstance(result, BaseException):
                raise result
        first: dict[int, int] = done[1]  # type: ignore[assignment]
        return await send_markers(producer, self.changelog, first), encoded

    async def _sweep_view(self) -> None:
        self.view_writer.sweep()

    def _view_records(self) -> Iterator[tuple[str, bytes]]:
        for part in self.parts.owned_and_loaded():
            for key, value in part.store.scan(keys.VIEW):
                yield keys.account_of(key), value

    def _owner(self, account_id: str) -> int:
        return partition_for(account_id.encode(), self.settings.topic_partitions)

    def _partition_of_cached(self, account_id: str) -> PartitionState | None:
        entry = self.cache.get(account_id)
        return None if entry is None else self.parts.loaded[entry.partition]

    def _after_commit(self, output: BatchOutput) -> None:
        self.cache.evict()
        now = time.time()
        for task, produced_at in output.tasks:
            self.metrics.tasks_out[task.playbook][task.action] += 1
            if produced_at is not None:
                seconds = max(0.0, now - produced_at)
                self.metrics.observe_latency(seconds * 1000)
                self.prometheus.latency.observe(seconds)
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
        count_load(self.metrics.csm_load, output.touches, (task for task, _ in output.tasks))
        # The view is derived from the topics: written after the commit, in commit order.
        self.view_writer.submit(output)

    def _highwater(self, topic: str, partition: int) -> int | None:
        try:
            value = self.app.consumer.highwater(TP(self.settings.topic(topic), partition))
        except Exception:
            return None
        return value if isinstance(value, int) and value >= 0 else None

    # -- ops metrics -----------------------------------------------------------------------

    async def _publish_metrics(self) -> None:
        try:
            lag = await consumer_lag(self.app.consumer, self.unprefixed, self._highwater)
        except Exception as exc:  # lag is best effort; the rest of the snapshot is not
            self.log.warning("consumer_lag_unavailable", error=str(exc))
            lag = {}
        self._last_lag = lag
        snapshot = build_snapshot(self, lag)
        await self.app.producer.send(
            self.metrics_topic,
            self.settings.worker_id.encode(),
            json.dumps(snapshot).encode(),
            None,
            None,
            None,
        )
        try:
            await self.view_writer.view.write_worker_metrics(self.settings.worker_id, snapshot)
        except Exception as exc:
            self.log.warning("redis_metrics_write_failed", error=str(exc))


def _mono() -> float:
    return time.monotonic()
