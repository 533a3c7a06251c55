"""Fault injection as an operator would do it: real broker, real Redis, real worker processes,
black box (only the topics and Redis are read). Minutes long, so not in the default run:

    python3 dev.py test -m soak -s        # -s prints each fault's figures

Each fault asserts one opened task per expected episode, no duplicate episode, nothing left
held, the Redis view complete, the worker(s) alive; and prints tasks expected / seen,
duplicates, held events after the fault and event -> task latency p50 / p99 during it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from kafka import KafkaConsumer, KafkaProducer

from tests.integration.harness import (
    Namespace,
    OwnRedis,
    WorkerProcess,
    account_event,
    nps_event,
    read_topic,
    ts,
)

pytestmark = [pytest.mark.integration, pytest.mark.soak]


@dataclass
class Report:
    name: str
    expected: int
    seen: int
    duplicated: int
    held_after: int
    p50: float | None
    p99: float | None

    def show(self) -> None:
        def ms(value: float | None) -> str:
            return "-" if value is None else f"{value * 1000:.0f} ms"

        print(
            f"\n[{self.name}] tasks expected {self.expected}, seen {self.seen}, duplicated "
            f"episodes {self.duplicated}, held after {self.held_after}, latency p50 "
            f"{ms(self.p50)} p99 {ms(self.p99)}"
        )


def _percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _paced(
    ns: Namespace, topic: str, events: list[dict], per_second: float, before: Callable | None = None
) -> threading.Thread:
    """Produce `events` at a steady pace in the background; `before(event)` may return a list
    of (topic, event) to send first (e.g. the account's facts)."""

    def run() -> None:
        producer = KafkaProducer(bootstrap_servers=ns.bootstrap, acks="all", linger_ms=0)
        try:
            for event in events:
                for extra_topic, extra in before(event) if before else []:
                    producer.send(ns.topic(extra_topic), key=extra["account_id"].encode(),
                                  value=json.dumps(extra).encode())
                producer.send(ns.topic(topic), key=event["account_id"].encode(),
                              value=json.dumps(event).encode())
                producer.flush()
                time.sleep(1 / per_second)
        finally:
            producer.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _timestamps(ns: Namespace, topic: str) -> list[tuple[dict, float]]:
    consumer = KafkaConsumer(ns.topic(topic), bootstrap_servers=ns.bootstrap,
                             auto_offset_reset="earliest", group_id=None, consumer_timeout_ms=1500)
    out: list[tuple[dict, float]] = []
    try:
        for message in consumer:
            try:
                value = json.loads(message.value)
            except (ValueError, TypeError, RecursionError):
                continue  # a poison message of the fuzz test
            if isinstance(value, dict) and isinstance(value.get("account_id"), str):
                out.append((value, message.timestamp / 1000))
        return out
    finally:
        consumer.close()


def _check(ns: Namespace, name: str, accounts: list[str], workers: list[WorkerProcess],
           timeout: float = 120) -> Report:
    deadline = time.monotonic() + timeout
    opened: dict[str, set[str]] = defaultdict(set)
    while time.monotonic() < deadline:
        opened = defaultdict(set)
        for task in read_topic(ns, "playbook-tasks"):
            if task["playbook"] == "nps_detractor" and task["action"] == "opened":
                opened[task["account_id"]].add(task["task_id"])
        if all(opened.get(a) for a in accounts):
            break
        time.sleep(1)
    sent = {e["account_id"]: at for e, at in _timestamps(ns, "nps-events")}
    out: dict[str, float] = {}
    for task, at in _timestamps(ns, "playbook-tasks"):
        if task["playbook"] == "nps_detractor" and task["action"] == "opened":
            out.setdefault(task["account_id"], at)
    latencies = [out[a] - sent[a] for a in accounts if a in out and a in sent]
    alive = [w for w in workers if w.proc is not None and w.proc.poll() is None]
    time.sleep(2)
    held = sum((w.metrics() or {}).get("events_held", 0) for w in alive)
    report = Report(name, len(accounts), sum(1 for a in accounts if opened.get(a)),
                    sum(1 for ids in opened.values() if len(ids) > 1), held,
                    _percentile(latencies, 0.5), _percentile(latencies, 0.99))
    report.show()
    assert report.seen == report.expected, [a for a in accounts if not opened.get(a)]
    assert report.duplicated == 0
    assert report.held_after == 0
    assert alive, "no worker alive"
    return report


def _view_complete(ns: Namespace, accounts: list[str], timeout: float = 30) -> None:
    client = ns.redis()
    deadline = time.monotonic() + timeout
    missing: list[str] = accounts
    while time.monotonic() < deadline:
        ranked = set(client.zrange(ns.redis_prefix + "health:ranking", 0, -1))
        missing = [a for a in accounts if a not in ranked]
        if not missing:
            return
        time.sleep(0.5)
    raise AssertionError(f"{len(missing)} accounts missing from the ranking: {missing[:5]}")


def test_worker_joins_then_first_is_killed_under_load(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    first = WorkerProcess(ns, "rb-1").start()
    workers.append(first)
    accounts = [f"rb-{n}" for n in range(200)]
    feed = _paced(ns, "nps-events", [nps_event(a, 2, ts(0, 10)) for a in accounts], 5)
    time.sleep(10)
    second = WorkerProcess(ns, "rb-2").start(wait_ready=False)
    workers.append(second)
    time.sleep(15)
    first.kill()
    feed.join()
    _check(ns, "rebalance under load", accounts, workers, timeout=150)
    _view_complete(ns, accounts)


def test_restart_storm(ns: Namespace, workers: list[WorkerProcess]) -> None:
    worker = WorkerProcess(ns, "storm-1").start()
    workers.append(worker)
    accounts = [f"storm-{n}" for n in range(100)]
    feed = _paced(ns, "nps-events", [nps_event(a, 1, ts(0, 10)) for a in accounts], 3)
    for _ in range(5):
        time.sleep(random.uniform(2, 5))
        worker.kill()
        restarted = WorkerProcess(ns, "storm-1")
        restarted.log_path = worker.log_path
        worker = restarted.start(timeout=120)
        workers.append(worker)
    feed.join()
    _check(ns, "restart storm", accounts, workers, timeout=150)
    _view_complete(ns, accounts)


def test_redis_paused_under_traffic(
    ns: Namespace, workers: list[WorkerProcess], own_redis: OwnRedis
) -> None:
    worker = WorkerProcess(ns, "pause-1").start()
    workers.append(worker)
    accounts = [f"pause-{n}" for n in range(60)]
    feed = _paced(ns, "nps-events", [nps_event(a, 2, ts(0, 10)) for a in accounts], 6)
    time.sleep(2)
    assert own_redis.proc is not None
    os.kill(own_redis.proc.pid, signal.SIGSTOP)
    time.sleep(10)
    os.kill(own_redis.proc.pid, signal.SIGCONT)
    feed.join()
    _check(ns, "redis paused 10 s", accounts, workers)
    _view_complete(ns, accounts)


def test_light_traffic_with_facts_stamped_in_the_past(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    """~2 detractors/s, each after its account's facts stamped 30 days earlier (a CRM
    backfill): the facts must not hold the clock, event -> task p99 within a second."""
    ns.extra_env["CS_ALLOWED_LATENESS"] = "5m"
    worker = WorkerProcess(ns, "light-1").start()
    workers.append(worker)
    now = time.time()

    def stamp(seconds_ago: float) -> str:
        from datetime import UTC, datetime

        return datetime.fromtimestamp(now - seconds_ago, UTC).isoformat()

    accounts = [f"light-{n}" for n in range(60)]
    detractors = [nps_event(a, 2, stamp(0)) for a in accounts]
    feed = _paced(ns, "nps-events", detractors, 2,
                  before=lambda e: [("account-events", account_event(
                      e["account_id"], stamp(30 * 86400), csm_id="csm-l"))])
    feed.join()
    report = _check(ns, "light traffic, facts 30 days old", accounts, workers)
    assert report.p99 is not None and report.p99 <= 1.0, report


def test_poison_fuzz_over_all_inputs(ns: Namespace, workers: list[WorkerProcess]) -> None:
    worker = WorkerProcess(ns, "fuzz-1").start()
    workers.append(worker)
    rng = random.Random(5)
    topics = ["usage-events", "ticket-events", "nps-events", "account-events"]
    base = nps_event("fuzz-x", 2, ts(0, 10))
    poisons: list[bytes] = [
        b"", b" ", b"\n\t", b"null", b"[]", b"{}", b'"text"', b"\xff\xfe", b"{" * 5000,
        json.dumps({**base, "score": float("nan")}).encode(),
        b'{"event_id": "x", "account_id": "a", "score": Infinity}',
        json.dumps({**base, "comment": "x" * 1_200_000}).encode(),
        json.dumps({**base, "occurred_at": "9999-12-31T23:59:59Z"}).encode(),
        json.dumps({**base, "account_id": "\ud800"}).encode("utf-8", "surrogatepass"),
        json.dumps({**base, "account_id": ["list"]}).encode(),
        json.dumps({**base, "score": "2"}).encode(),
        b'{"nested": ' + b"[" * 3000 + b"]" * 3000 + b"}",
    ]
    poisons += [bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300))) for _ in range(80)]
    producer = KafkaProducer(bootstrap_servers=ns.bootstrap, acks="all",
                             max_request_size=8 << 20)
    from events.decode import DecodeError, decode_event

    sent = 0  # messages the contract rejects: each must give exactly one dead letter
    for payload in poisons:
        for topic in topics:
            producer.send(ns.topic(topic), key=b"fuzz", value=payload)
            try:
                decode_event(topic, payload)
            except DecodeError:
                sent += 1
            # else: valid on this topic (e.g. extra fields on account-events): re-routed
    accounts = [f"fuzz-ok-{n}" for n in range(20)]
    for account in accounts:
        event = nps_event(account, 3, ts(0, 11))
        value = json.dumps(event).encode()
        producer.send(ns.topic("nps-events"), key=account.encode(), value=value)
    producer.flush()
    producer.close()
    _check(ns, "poison fuzz", accounts, workers)
    letters = read_topic(ns, "dead-letters")
    assert len(letters) == sent, (len(letters), sent)  # exactly one each, none lost
    for letter in letters:
        assert {"source_topic", "partition", "offset", "error", "payload", "received_at"} <= set(
            letter
        )
        assert letter["error"]
