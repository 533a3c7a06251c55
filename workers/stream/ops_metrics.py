"""The worker's own metrics, published to `ops-metrics` at a fixed interval.

Counters are cumulative since the worker started (so a missed message loses nothing);
latency percentiles cover the last interval only.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

METRICS_SCHEMA_VERSION = 1


def percentile(sorted_values: list[float], fraction: float) -> float | None:
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


@dataclass
class WorkerMetrics:
    worker_id: str
    app_id: str
    events_in: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    rerouted: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    tasks_out: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    health_scores_out: int = 0
    batches: int = 0
    time_driven_evaluations: int = 0
    redis_write_failures: int = 0
    # events older than their partition's clock when they arrived (applied at once, counted)
    late_events: int = 0
    # task-feedback applied: playbook -> "acknowledged" | "snoozed" | "done" |
    # "dismissed:<reason>" -> count (the dismissed share per playbook and reason)
    feedback: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    # held events released before their clock because a partition held too many
    forced_releases: int = 0
    # batches rolled back to the last committed state and retried (see app.py)
    batch_retries: int = 0
    state_writes: int = 0
    state_bytes_written: int = 0
    largest_state_write: int = 0
    recoveries: int = 0
    recovery_seconds: float = 0.0
    recovered_records: int = 0
    # CSM load (csm_load.py): csm -> ISO week -> touchpoints / touch:<kind> / inbound /
    # tasks_opened / tasks_resolved, this worker's share, each CSM's latest weeks
    csm_load: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    _latencies_ms: list[float] = field(default_factory=list)

    def observe_latency(self, millis: float) -> None:
        # Keep the interval's sample sorted for cheap percentiles; bounded so a burst
        # cannot grow memory without limit.
        if len(self._latencies_ms) < 50_000:
            bisect.insort(self._latencies_ms, millis)

    def snapshot(
        self,
        *,
        at: str,
        interval_seconds: float,
        consumer_lag: dict[str, int],
        assigned_partitions: list[int],
        event_clock: dict[int, str | None],
        events_held: int = 0,
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        latencies = self._latencies_ms
        snap = {
            "schema_version": METRICS_SCHEMA_VERSION,
            "worker_id": self.worker_id,
            "app_id": self.app_id,
            "at": at,
            "interval_seconds": interval_seconds,
            "events_in": dict(sorted(self.events_in.items())),
            "events_in_total": sum(self.events_in.values()),
            "duplicates": self.duplicates,
            # valid events waiting for their partition's event-time clock (see holding.py)
            "events_held": events_held,
            "rerouted": self.rerouted,
            "dead_letters": dict(sorted(self.dead_letters.items())),
            "dead_letters_total": sum(self.dead_letters.values()),
            "tasks_out": {pb: dict(sorted(c.items())) for pb, c in sorted(self.tasks_out.items())},
            "tasks_out_total": sum(sum(c.values()) for c in self.tasks_out.values()),
            "health_scores_out": self.health_scores_out,
            "batches": self.batches,
            "time_driven_evaluations": self.time_driven_evaluations,
            "redis_write_failures": self.redis_write_failures,
            "late_events": self.late_events,
            "feedback": {pb: dict(sorted(c.items())) for pb, c in sorted(self.feedback.items())},
            "csm_load": {
                csm: {week: dict(sorted(c.items())) for week, c in sorted(weeks.items())}
                for csm, weeks in sorted(self.csm_load.items())
            },
            "forced_releases": self.forced_releases,
            "batch_retries": self.batch_retries,
            "state": {
                "writes": self.state_writes,
                "bytes_written": self.state_bytes_written,
                "largest_write_bytes": self.largest_state_write,
                "recoveries": self.recoveries,
                "recovery_seconds": round(self.recovery_seconds, 3),
                "recovered_records": self.recovered_records,
            },
            "consumer_lag": dict(sorted(consumer_lag.items())),
            "consumer_lag_total": sum(consumer_lag.values()),
            "processing_latency_ms": {
                "count": len(latencies),
                "p50": percentile(latencies, 0.50),
                "p99": percentile(latencies, 0.99),
                "max": latencies[-1] if latencies else None,
            },
            "assigned_partitions": assigned_partitions,
            "event_clock": {str(p): t for p, t in sorted(event_clock.items())},
        }
        if extra:
            snap.update(extra)
        self._latencies_ms = []
        return snap
