"""A notifier's /metrics: sent, retried, dead per sink and delivery latency, counted where the
delivery core sees them (TaskHandler, DeadLetterPublisher, Runtime.on_retry)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import generate_latest

from tests.fakes.tasks import task
from workers.delivery.consumer import DeadLetterPublisher, TaskHandler
from workers.delivery.messages import DeadLetter, TaskMessage, dead_letter_for
from workers.delivery.metrics import DeliveryMetrics
from workers.delivery.retry import RateLimited, Retryable


class _Record:
    def __init__(self, offset: int, value: bytes, timestamp: int) -> None:
        self.offset, self.value, self.timestamp = offset, value, timestamp


class _FailOne:
    name = "webhook"

    async def deliver(self, batch: list[TaskMessage]) -> list[DeadLetter]:
        return [dead_letter_for(m, self.name, "HTTP 400", 1) for m in batch if m.task_id == "bad"]


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes]] = []

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Any:
        self.sent.append((topic, value))
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future


class _Log:
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def samples(metrics: DeliveryMetrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_sent_dead_latency_and_batches_are_counted() -> None:
    metrics = DeliveryMetrics("webhook")
    publisher = DeadLetterPublisher(_Producer(), "notify-dead-letters", _Log(), metrics)  # type: ignore[arg-type]
    handler = TaskHandler(_FailOne(), publisher, _Log(), metrics)
    now_ms = int(time.time() * 1000)
    records = [
        _Record(0, json.dumps(task("ok-1", "opened", "a", "csm")).encode(), now_ms - 2000),
        _Record(1, json.dumps(task("ok-2", "opened", "b", "csm")).encode(), now_ms - 2000),
        _Record(2, json.dumps(task("bad", "opened", "c", "csm")).encode(), now_ms - 2000),
        _Record(3, b"not json", now_ms),
    ]
    asyncio.run(handler({TopicPartition("playbook-tasks", 0): records}))  # type: ignore[dict-item]
    found = samples(metrics)
    assert found['cs_signals_notifications_sent_total{sink="webhook"}'] == 2
    assert found['cs_signals_notifications_dead_total{sink="webhook"}'] == 2  # bad + undecodable
    assert found['cs_signals_delivery_latency_seconds_count{sink="webhook"}'] == 2
    assert found['cs_signals_delivery_latency_seconds_bucket{le="1.0",sink="webhook"}'] == 0
    assert found['cs_signals_delivery_latency_seconds_bucket{le="2.5",sink="webhook"}'] == 2
    assert found['cs_signals_delivery_batch_duration_seconds_count{sink="webhook"}'] == 1


def test_retries_are_counted_by_reason() -> None:
    from workers.delivery.runner import Runtime

    metrics = DeliveryMetrics("slack")
    runtime = Runtime.__new__(Runtime)
    runtime.log, runtime.metrics = _Log(), metrics
    runtime.on_retry(RateLimited("HTTP 429", retry_after=1), 1.0)
    runtime.on_retry(RateLimited("HTTP 429"), 1.0)
    runtime.on_retry(Retryable("HTTP 503"), 0.5)
    found = samples(metrics)
    assert found['cs_signals_notifications_retried_total{reason="rate_limited",sink="slack"}'] == 2
    assert found['cs_signals_notifications_retried_total{reason="error",sink="slack"}'] == 1
