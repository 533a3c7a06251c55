"""(d) latency: paced load with NPS detractors, each timed to its `nps_detractor` task, and
the worker's own latency figures from ops-metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from measure import COUNTER_INTERVAL_S

FETCH_MAX_WAIT_MS = 50  # workers/stream/app.py FETCH_MAX_WAIT_MS


@dataclass
class LatencyResult:
    latencies_ms: list[float]
    missing: int
    warmup_samples: int
    warmup_max_ms: float | None
    sent: int
    send_seconds: float
    tasks_seen: int
    usage_accounts: int = 0  # accounts with usage traffic (sample's + new ones)
    new_accounts: int = 0  # of which introduced during (d) by their facts
    nps_accounts: int = 0  # fresh accounts that each sent one NPS detractor
    event_time: tuple[str, str] = ("", "")  # first and last occurred_at sent
    slow_at: list[float] = field(default_factory=list)  # when samples over 1 s were sent


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
    min_accounts: int = 1000,
    tail: float = 3.0,
) -> LatencyResult:
    """(d): paced usage events for the sample's accounts plus, every `nps_every`-th event, an
    NPS detractor (score 2) for a fresh account; latency = arrival of that account's first
    nps_detractor task on playbook-tasks - the moment the NPS event was handed to the
    producer. The Kafka timestamp is the wall clock; occurred_at is the wall clock too when
    `event_time_from` is None, else `event_time_from` + the time elapsed since (d) began, so
    event time runs on seamlessly from the throughput sample and no catch-up is triggered.

    The usage traffic is spread round-robin over at least `min_accounts` accounts: the
    sample's (which have history) and new ones, each of which is introduced by an account
    event (its facts) in place of its first usage event, so the rate stays exact."""
    tasks_tp = [TopicPartition(prefix + "playbook-tasks", p) for p in range(partitions)]
    # The same short fetch wait as the worker's consumer (workers/stream/broker_quirks.py):
    # Tansu holds a fetch for the whole wait even when a record arrives meanwhile, which at
    # aiokafka's default of 500 ms added ~100 ms (p50) of the broker's to every sample.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, fetch_max_wait_ms=FETCH_MAX_WAIT_MS
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    sent_at: dict[str, float] = {}  # account -> send time (measured ones)
    warm_sent_at: dict[str, float] = {}
    timeline: list[tuple[float, float]] = []  # (sent, s after the window began; latency ms)
    window_start = time.time() + warmup
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
                            sent_time = sent_at.pop(account)
                            latencies.append((arrived - sent_time) * 1000)
                            timeline.append((sent_time - window_start, latencies[-1]))
                        elif account in warm_sent_at:
                            warm_latencies.append((arrived - warm_sent_at.pop(account)) * 1000)

        reader = asyncio.create_task(read_tasks())
        usage_topic = prefix + "usage-events"
        nps_topic = prefix + "nps-events"
        facts_topic = prefix + "account-events"
        extra = max(0, min_accounts - len(accounts))
        new_accounts = [f"bench-{run_id}-live-{i:04d}" for i in range(extra)]
        live = list(accounts) + new_accounts
        unknown = set(new_accounts)  # not introduced yet
        first_stamp = last_stamp = ""
        usage_index = 0  # round-robin position over `live` (NPS events take no turn)
        total = int(rate * (warmup + seconds + tail))
        nps_until = warmup + seconds  # the tail sends usage only
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
                if index % nps_every == nps_every - 1 and index < rate * nps_until:
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
                elif (account := live[usage_index % len(live)]) in unknown:
                    usage_index += 1
                    unknown.discard(account)
                    body = new_account_facts(account, run_id, index, stamp)
                    topic = facts_topic
                else:
                    user = (usage_index // len(live)) % 12
                    usage_index += 1
                    body = {
                        "event_id": f"bench-{run_id}-u-{index}",
                        "account_id": account,
                        "occurred_at": stamp,
                        "user_id": f"{account}-user-{user:03d}",
                        "feature": ("dashboards", "reports", "alerts", "search")[index % 4],
                        "quantity": 1,
                    }
                    topic = usage_topic
                first_stamp = first_stamp or stamp
                last_stamp = stamp
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
    nps_accounts = len(latencies) + len(warm_latencies) + len(sent_at) + len(warm_sent_at)
    slow = sorted(t for t, ms in timeline if ms > 1000)
    return LatencyResult(
        latencies_ms=sorted(latencies),
        missing=len(sent_at),
        warmup_samples=len(warm_latencies),
        warmup_max_ms=max(warm_latencies) if warm_latencies else None,
        sent=sent,
        send_seconds=send_seconds,
        tasks_seen=seen,
        usage_accounts=len(live),
        new_accounts=extra,
        nps_accounts=nps_accounts,
        event_time=(first_stamp, last_stamp),
        slow_at=slow,
    )


def new_account_facts(account: str, run_id: str, index: int, stamp: str) -> dict[str, Any]:
    n = int(account.rsplit("-", 1)[1])
    return {
        "event_id": f"bench-{run_id}-a-{index}",
        "account_id": account,
        "occurred_at": stamp,
        "name": f"Live account {n}",
        "segment": ("smb", "mid_market", "enterprise")[n % 3],
        "licensed_seats": 15 + n % 40,
        "arr": 12_000.0 + 150 * (n % 200),
        "csm_id": f"csm-live-{n % 12}",
        "champion_user_id": f"{account}-user-000",
        "contract_start": "2025-03-01",
        "renewal_date": "2027-09-30",
    }


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
