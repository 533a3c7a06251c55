"""A worker's Prometheus /metrics, scraped over real HTTP while it works."""

from __future__ import annotations

import time
import urllib.request

import pytest

from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    nps_event,
    produce,
    tasks_of,
    ts,
    wait_for,
)
from workers.local.embedded import free_port

pytestmark = pytest.mark.integration

SERIES = (
    "cs_signals_events_consumed_total",
    "cs_signals_dead_letters_total",
    "cs_signals_tasks_total",
    "cs_signals_event_to_task_seconds_bucket",
    "cs_signals_batch_duration_seconds_count",
    "cs_signals_held_events",
    "cs_signals_oldest_held_event_age_seconds",
    "cs_signals_consumer_lag_records",
    "cs_signals_state_largest_write_bytes",
    "cs_signals_state_store_bytes",
    "cs_signals_cache_hit_ratio",
    "cs_signals_view_repairs_total",
)


def test_metrics_endpoint_serves_the_worker_series(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    port = free_port()
    ns.extra_env["CS_METRICS_PORT"] = str(port)
    worker = WorkerProcess(ns, "prom-1").start()
    workers.append(worker)
    produce(ns, "nps-events", [nps_event(f"p-{n}", 2, ts(0, 10)) for n in range(5)])
    produce(ns, "nps-events", [b"not json"], key=b"p-0")
    wait_for(ns, "playbook-tasks", lambda m: len(tasks_of(m, "p-4", "nps_detractor")) > 0,
             workers=[worker])
    time.sleep(1.5)  # one metrics interval: the consumer lag is refreshed
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    for series in SERIES:
        assert series in body, series
    assert 'cs_signals_tasks_total{action="opened",playbook="nps_detractor"} 5.0' in body
    assert 'cs_signals_events_consumed_total{topic="nps-events"} 5.0' in body
    assert 'cs_signals_dead_letters_total{topic="nps-events"} 1.0' in body
    assert 'cs_signals_event_to_task_seconds_count 5.0' in body
