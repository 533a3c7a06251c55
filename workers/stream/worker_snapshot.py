"""The worker's ops-metrics snapshot: its counters plus what it holds right now (partitions,
clocks, held events, schedule, cache, view repairs) and its consumer lag."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from workers.stream.partition import PartitionState

if TYPE_CHECKING:
    from config.settings import Settings
    from workers.stream.cache import AccountCache
    from workers.stream.ops_metrics import WorkerMetrics
    from workers.stream.ownership import OwnedPartitions
    from workers.stream.view_writer import ViewWriter


class SnapshotSource(Protocol):
    """What the snapshot reads of the worker (app.SignalWorker), without importing it."""

    settings: Settings
    metrics: WorkerMetrics
    cache: AccountCache
    parts: OwnedPartitions
    view_writer: ViewWriter


def oldest_held_age(parts: Iterable[PartitionState]) -> float | None:
    """Seconds the longest-waiting held event has waited for its partition's clock."""
    now = time.time()
    ages = [max(0.0, now - oldest) for p in parts if (oldest := p.oldest_held()) is not None]
    return round(max(ages), 3) if ages else None


async def consumer_lag(
    consumer: Any, unprefixed: dict[str, str], highwater: Callable[[str, int], int | None]
) -> dict[str, int]:
    """"<input topic>/<partition>" -> records not consumed yet, for the assigned inputs."""
    lag: dict[str, int] = {}
    for tp in sorted(consumer.assignment()):
        if tp.topic not in unprefixed:
            continue
        end = highwater(unprefixed[tp.topic], tp.partition)
        position = await consumer.position(tp)
        if end is not None and position is not None:
            lag[f"{unprefixed[tp.topic]}/{tp.partition}"] = max(0, end - position)
    return lag


def _iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, UTC).isoformat() if ts is not None else None


def build_snapshot(worker: SnapshotSource, lag: dict[str, int]) -> dict[str, Any]:
    parts = worker.parts.owned_and_loaded()
    cache = worker.cache
    view = worker.view_writer
    return worker.metrics.snapshot(
        at=datetime.now(UTC).isoformat(),
        interval_seconds=worker.settings.metrics_interval_seconds,
        consumer_lag=lag,
        assigned_partitions=sorted(worker.parts.owned),
        events_held=sum(p.held_count() for p in parts),
        event_clock={p.number: _iso(p.clock.reached) for p in parts},
        extra={
            "oldest_held_event_age_seconds": oldest_held_age(parts),
            "scheduled_accounts": sum(len(p.schedule) for p in parts),
            "cache": {
                "accounts": len(cache),
                "capacity": cache.capacity,
                "hits": cache.hits,
                "misses": cache.misses,
            },
            "allowed_lateness_seconds": worker.settings.allowed_lateness_seconds,
            "view_repairs": view.repairs,
            "view_last_repair": _iso(view.last_repair) if view.last_repair else None,
            "view_last_repair_reason": view.last_repair_reason,
        },
    )
