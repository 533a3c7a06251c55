"""The partitions a worker owns: loaded (recovered) on first use, dropped when lost or when a
failed batch is rolled back, kept across a rebalance that leaves them here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer
from faust.types import TP

from workers.stream.cache import AccountCache
from workers.stream.changelog import recover
from workers.stream.ops_metrics import WorkerMetrics
from workers.stream.partition import PartitionState
from workers.stream.store import LocalStores, PartitionStore


class OwnedPartitions:
    def __init__(
        self,
        stores: LocalStores,
        cache: AccountCache,
        changelog: str,
        bootstrap_servers: list[str],
        metrics: WorkerMetrics,
        log: Any,
        client_options: dict[str, Any] | None = None,
    ) -> None:
        self.stores = stores
        self.cache = cache
        self.changelog = changelog
        self.bootstrap_servers = bootstrap_servers
        self.metrics = metrics
        self.log = log
        self.owned: set[int] = set()
        self.loaded: dict[int, PartitionState] = {}
        self._consumer: AIOKafkaConsumer | None = None
        # security_protocol, ssl_context, sasl_* (config.security.aiokafka_options)
        self.client_options = dict(client_options or {})

    def assign(self, owned: set[int]) -> None:
        """The new assignment: drop what was lost, keep what stays."""
        self.forget(self.owned - owned)
        self.owned = owned

    def forget(self, partitions: set[int]) -> None:
        """Drop the in-memory state of `partitions`: the next use recovers the committed state."""
        for number in partitions:
            self.loaded.pop(number, None)
        self.cache.drop_partitions(partitions)

    def get(self, number: int) -> PartitionState | None:
        return self.loaded.get(number)

    async def load(self, number: int) -> PartitionState:
        """The partition's state, recovered from the changelog tail on first use."""
        state = self.loaded.get(number)
        if state is not None:
            return state
        report = await recover(
            await self._recovery_consumer(),
            self.changelog,
            number,
            self.stores.get(number),
            lambda stale: self._reset_store(number),
        )
        self.metrics.recoveries += 1
        self.metrics.recovery_seconds += report.seconds
        self.metrics.recovered_records += report.records
        state = self.loaded[number] = PartitionState(number, report.store)
        self.log.info(
            "partition_recovered",
            partition=number,
            from_offset=report.start_offset,
            records=report.records,
            dropped_uncommitted=report.dropped,
            migrated_accounts=report.migrated_accounts,
            held_events=state.held_count(),
            scheduled_accounts=len(state.schedule),
            seconds=round(report.seconds, 3),
        )
        return state

    async def inputs_caught_up(
        self,
        number: int,
        consumer: Any,
        inputs: dict[str, str],
        highwater: Callable[[str, int], int | None],
    ) -> bool:
        """Has this worker seen partition `number` of every input caught up at least once?

        Until then its clock must not follow the wall clock: a fresh worker knows nothing of
        a backlog it has not read yet, and jumping to "now" would turn a whole backfill into
        late events evaluated with half the data.
        """
        part = self.loaded.get(number)
        if part is None:
            return False
        for topic, name in inputs.items():
            end = highwater(name, number)
            if end is None:
                return False
            progress = part.clock.inputs.get(name)
            if progress is not None and progress.last_offset + 1 >= end:
                continue
            try:
                position = await consumer.position(TP(topic, number))
            except Exception:
                return False
            if position is None or position < end:
                return False
        return True

    def owned_and_loaded(self) -> list[PartitionState]:
        return [self.loaded[p] for p in sorted(self.loaded) if p in self.owned]

    def _reset_store(self, number: int) -> PartitionStore:
        self.log.warning(
            "local_store_reset",
            partition=number,
            reason="the local store is ahead of the changelog (recreated topic or another "
            "cluster's data directory); rebuilding it from the changelog",
        )
        return self.stores.reset(number)

    async def _recovery_consumer(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers,
                enable_auto_commit=False,
                group_id=None,
                auto_offset_reset="earliest",
                max_partition_fetch_bytes=8 << 20,
                # recovery reads to the end and stops at the first empty fetch: don't let the
                # broker hold that fetch long (broker_quirks.limit_fetch_wait)
                fetch_max_wait_ms=50,
                **self.client_options,
            )
            await consumer.start()
            self._consumer = consumer
        return self._consumer
