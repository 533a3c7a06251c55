"""Prometheus `/metrics` of a worker (`CS_METRICS_PORT`; 0 turns it off).

Counters are read from the worker's own `WorkerMetrics` (the same numbers ops-metrics
publishes), gauges from its live state at scrape time, and two histograms (event -> task
latency, batch duration) are observed as batches commit. Names follow Prometheus conventions:
`cs_signals_` prefix, base units (seconds, bytes), `_total` for counters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from workers.stream.ops_metrics import WorkerMetrics

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class LiveGauges:
    """Read at scrape time from the worker."""

    held: Callable[[], int]
    oldest_held_age: Callable[[], float | None]
    consumer_lag: Callable[[], dict[str, int]]  # "topic/partition" -> records
    cache: Callable[[], tuple[int, int, int]]  # entries, hits, misses
    store_bytes: Callable[[], int]
    scheduled: Callable[[], int]
    view_repairs: Callable[[], int]


class _WorkerCollector(Collector):
    def __init__(self, metrics: WorkerMetrics, live: LiveGauges) -> None:
        self.m = metrics
        self.live = live

    def collect(self) -> Iterator[Any]:
        m = self.m
        events = CounterMetricFamily(
            "cs_signals_events_consumed", "valid input events consumed", labels=["topic"]
        )
        for topic, n in sorted(m.events_in.items()):
            events.add_metric([topic], n)
        yield events
        dead = CounterMetricFamily(
            "cs_signals_dead_letters", "input messages sent to dead-letters", labels=["topic"]
        )
        for topic, n in sorted(m.dead_letters.items()):
            dead.add_metric([topic], n)
        yield dead
        tasks = CounterMetricFamily(
            "cs_signals_tasks", "task messages published", labels=["playbook", "action"]
        )
        for playbook, actions in sorted(m.tasks_out.items()):
            for action, n in sorted(actions.items()):
                tasks.add_metric([playbook, action], n)
        yield tasks
        feedback = CounterMetricFamily(
            "cs_signals_feedback", "task feedback applied", labels=["playbook", "action", "reason"]
        )
        for playbook, kinds in sorted(m.feedback.items()):
            for kind, n in sorted(kinds.items()):
                action, _, reason = kind.partition(":")
                feedback.add_metric([playbook, action, reason], n)
        yield feedback
        for name, doc, value in (
            ("duplicates", "redelivered events recognised and skipped", m.duplicates),
            ("rerouted", "unkeyed or mis-partitioned events re-published", m.rerouted),
            ("late_events", "events older than their partition's clock", m.late_events),
            ("forced_releases", "held events released early (held limit)", m.forced_releases),
            ("batch_retries", "batches rolled back and retried", m.batch_retries),
            ("health_scores", "health scores published", m.health_scores_out),
            ("time_driven_evaluations", "scheduled account evaluations", m.time_driven_evaluations),
            ("redis_write_failures", "Redis view writes given up", m.redis_write_failures),
            ("state_writes", "account values written", m.state_writes),
            ("state_written_bytes", "bytes of account values written", m.state_bytes_written),
            ("recoveries", "partitions recovered from the changelog", m.recoveries),
            ("recovered_records", "changelog records read by recoveries", m.recovered_records),
            ("view_repairs", "accounts re-written into Redis by repairs", self.live.view_repairs()),
        ):
            yield CounterMetricFamily(f"cs_signals_{name}", doc, value=value)
        yield GaugeMetricFamily(
            "cs_signals_state_largest_write_bytes",
            "largest account value written",
            value=m.largest_state_write,
        )
        yield GaugeMetricFamily(
            "cs_signals_held_events",
            "events waiting for their partition's clock",
            value=self.live.held(),
        )
        age = self.live.oldest_held_age()
        yield GaugeMetricFamily(
            "cs_signals_oldest_held_event_age_seconds",
            "how long the longest-waiting held event has waited (0 when none)",
            value=age or 0.0,
        )
        lag = GaugeMetricFamily(
            "cs_signals_consumer_lag_records",
            "records not yet consumed",
            labels=["topic", "partition"],
        )
        for key, n in sorted(self.live.consumer_lag().items()):
            topic, _, partition = key.rpartition("/")
            lag.add_metric([topic, partition], n)
        yield lag
        entries, hits, misses = self.live.cache()
        yield GaugeMetricFamily(
            "cs_signals_cache_accounts", "accounts decoded in memory", value=entries
        )
        yield GaugeMetricFamily(
            "cs_signals_cache_hit_ratio",
            "share of account lookups served from memory",
            value=hits / (hits + misses) if hits + misses else 0.0,
        )
        yield GaugeMetricFamily(
            "cs_signals_state_store_bytes",
            "estimated live bytes in the local stores",
            value=self.live.store_bytes(),
        )
        yield GaugeMetricFamily(
            "cs_signals_scheduled_accounts",
            "accounts with a scheduled evaluation",
            value=self.live.scheduled(),
        )


class PrometheusExporter:
    def __init__(self, metrics: WorkerMetrics, live: LiveGauges) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(_WorkerCollector(metrics, live))
        self.latency = Histogram(
            "cs_signals_event_to_task_seconds",
            "from the producer's timestamp of an event to the publication of its task",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch = Histogram(
            "cs_signals_batch_duration_seconds",
            "processing and commit of one batch",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )

    def serve(self, port: int, host: str = "0.0.0.0") -> None:
        start_http_server(port, addr=host, registry=self.registry)
