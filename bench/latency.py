"""(d) latency: paced load with NPS detractors, each timed to its `nps_detractor` task, and
the worker's own latency figures from ops-metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from measure import COUNTER_INTERVAL_S


@dataclass
class LatencyResult:
    latencies_ms: list[float]
    missing: int
    warmup_samples: int
    warmup_max_ms: float | None
    sent: int
    send_seconds: float
    tasks_seen: int


async def measure_latency(
    bootstrap: str,
    prefix: str,
    partitions: int,
    accounts: list[str],
    *,
    seconds: float,
    warmup: float,
    rate: float,
    nps_every: int,
    run_id: str,
    event_time_from: datetime | None,
) -> LatencyResult:
    """(d): paced usage events for the sample's accounts plus, every `nps_every`-th event, an
    NPS detractor (score 2) for a fresh account; latency = arrival of that account's first
    nps_detractor task on playbook-tasks - the moment the NPS event was handed to the
    producer. The Kafka timestamp is the wall clock; occurred_at is the wall clock too when
    `event_time_from` is None, else `event_time_from` + the time elapsed since (d) began, so
    event time runs on seamlessly from the throughput sample and no catch-up is triggered."""
    tasks_tp = [TopicPartition(prefix + "playbook-tasks", p) for p in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    sent_at: dict[str, float] = {}  # account -> send time (measured ones)
    warm_sent_at: dict[str, float] = {}
    latencies: list[float] = []
    warm_latencies: list[float] = []
    seen = 0
    stop = asyncio.Event()
    try:
        consumer.assign(tasks_tp)
        await consumer.seek_to_end(*tasks_tp)
        for tp in tasks_tp:  # resolve the end offsets now, before anything is sent
            await consumer.position(tp)

        async def read_tasks() -> None:
            nonlocal seen
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=50)
                arrived = time.time()
                for messages in batches.values():
                    for message in messages:
                        seen += 1
                        task = json.loads(message.value)
                        if task.get("playbook") != "nps_detractor":
                            continue
                        account = task.get("account_id")
                        if account in sent_at:
                            latencies.append((arrived - sent_at.pop(account)) * 1000)
                        elif account in warm_sent_at:
                            warm_latencies.append((arrived - warm_sent_at.pop(account)) * 1000)

        reader = asyncio.create_task(read_tasks())
        usage_topic = prefix + "usage-events"
        nps_topic = prefix + "nps-events"
        total = int(rate * (warmup + seconds))
        sent = 0
        started = time.perf_counter()
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                index = sent
                sent += 1
                now = time.time()
                moment = (
                    datetime.fromtimestamp(now, UTC)
                    if event_time_from is None
                    else event_time_from + timedelta(seconds=time.perf_counter() - started)
                )
                stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                if index % nps_every == nps_every - 1:
                    account = f"bench-{run_id}-nps-{index}"
                    body = {
                        "event_id": f"bench-{run_id}-n-{index}",
                        "account_id": account,
                        "occurred_at": stamp,
                        "score": 2,
                        "respondent_id": f"{account}-user-1",
                        "comment": "benchmark detractor",
                    }
                    topic = nps_topic
                    measured = time.perf_counter() - started >= warmup
                    (sent_at if measured else warm_sent_at)[account] = time.time()
                else:
                    account = accounts[index % len(accounts)]
                    body = {
                        "event_id": f"bench-{run_id}-u-{index}",
                        "account_id": account,
                        "occurred_at": stamp,
                        "user_id": f"{account}-user-{index % 7:03d}",
                        "feature": ("dashboards", "reports", "alerts", "search")[index % 4],
                        "quantity": 1,
                    }
                    topic = usage_topic
                await producer.send(
                    topic,
                    key=account.encode(),
                    value=json.dumps(body, separators=(",", ":")).encode(),
                    timestamp_ms=int(now * 1000),
                )
            await asyncio.sleep(0.002)
        await producer.flush()
        send_seconds = time.perf_counter() - started
        deadline = time.monotonic() + 15
        while (sent_at or warm_sent_at) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await reader
    finally:
        stop.set()
        await producer.stop()
        await consumer.stop()
    return LatencyResult(
        latencies_ms=sorted(latencies),
        missing=len(sent_at),
        warmup_samples=len(warm_latencies),
        warmup_max_ms=max(warm_latencies) if warm_latencies else None,
        sent=sent,
        send_seconds=send_seconds,
        tasks_seen=seen,
    )


def worker_latency(snapshots: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """The worker's own per-interval latency figures from ops-metrics snapshots taken
    inside [start, end + one interval]."""
    p50s: list[float] = []
    p99s: list[float] = []
    count = 0
    inside: list[dict[str, Any]] = []
    for snap in snapshots:
        with contextlib.suppress(KeyError, ValueError, TypeError):
            at = datetime.fromisoformat(snap["at"]).timestamp()
            if not start <= at <= end + COUNTER_INTERVAL_S:
                continue
            inside.append(snap)
            figures = snap["processing_latency_ms"]
            if figures.get("count"):
                p50s.append(float(figures["p50"]))
                p99s.append(float(figures["p99"]))
                count += int(figures["count"])
    if not p50s:
        return {}
    p50s.sort()
    batches = inside[-1].get("batches", 0) - inside[0].get("batches", 0)
    events = inside[-1].get("events_in_total", 0) - inside[0].get("events_in_total", 0)
    return {
        "snapshots": len(p50s),
        "count": count,
        "p50": pct(p50s, 0.5),
        "p99": max(p99s),
        "batches": batches,
        "events": events,
        "seconds": datetime.fromisoformat(inside[-1]["at"]).timestamp()
        - datetime.fromisoformat(inside[0]["at"]).timestamp(),
    }


def pct(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1]
