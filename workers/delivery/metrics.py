"""Prometheus `/metrics` of a notifier or CRM sync (`CS_METRICS_PORT`, as for the workers;
0 turns it off; two processes on one host need two ports).

Series (label `sink`: slack, webhook, hubspot, salesforce):

- `cs_signals_notifications_sent_total` -- task actions delivered (posted, edited, upserted;
  for Slack also those folded into a digest or held for quiet hours / a snooze);
- `cs_signals_notifications_retried_total{reason}` -- attempts retried: `rate_limited` (429 with
  or without Retry-After) or `error` (5xx, timeouts, connection errors);
- `cs_signals_notifications_dead_total` -- task records published to notify-dead-letters;
- `cs_signals_delivery_latency_seconds` (histogram) -- from the task's publication on
  playbook-tasks (the record's timestamp) to its delivery;
- `cs_signals_delivery_batch_duration_seconds` (histogram) -- one consumed batch, delivery and
  dead letters included, before its offsets are committed.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class DeliveryMetrics:
    def __init__(self, sink: str = "unknown") -> None:
        self.sink = sink  # set once the sink is built
        self.registry = CollectorRegistry()
        self.sent = Counter(
            "cs_signals_notifications_sent",
            "task actions delivered",
            ["sink"],
            registry=self.registry,
        )
        self.retried = Counter(
            "cs_signals_notifications_retried",
            "delivery attempts retried (rate_limited: 429; error: 5xx, timeouts, connections)",
            ["sink", "reason"],
            registry=self.registry,
        )
        self.dead = Counter(
            "cs_signals_notifications_dead",
            "task records published to notify-dead-letters",
            ["sink"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "cs_signals_delivery_latency_seconds",
            "from the task's publication on playbook-tasks to its delivery",
            ["sink"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch = Histogram(
            "cs_signals_delivery_batch_duration_seconds",
            "delivery of one consumed batch, before its offsets are committed",
            ["sink"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )

    def delivered(self, record_timestamps_ms: list[int], now: float | None = None) -> None:
        """Count delivered task records; `record_timestamps_ms` are their Kafka timestamps."""
        if not record_timestamps_ms:
            return
        now = time.time() if now is None else now
        self.sent.labels(self.sink).inc(len(record_timestamps_ms))
        latency = self.latency.labels(self.sink)
        for stamp in record_timestamps_ms:
            latency.observe(max(0.0, now - stamp / 1000))

    def retry(self, error: Exception) -> None:
        from workers.delivery.retry import RateLimited

        reason = "rate_limited" if isinstance(error, RateLimited) else "error"
        self.retried.labels(self.sink, reason).inc()

    def dead_letter(self, sink: str | None = None) -> None:
        self.dead.labels(sink or self.sink).inc()

    def serve(self, port: int, host: str = "0.0.0.0") -> Any:
        return start_http_server(port, addr=host, registry=self.registry)
