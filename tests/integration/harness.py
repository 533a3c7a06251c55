"""Real parts for integration tests: a Tansu broker, Redis, worker processes, topic readers.

Every test gets its own CS_APP_ID, topic prefix and Redis key prefix, so tests never see
each other's data (or a developer's running demo) even on a shared broker and Redis.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from kafka import KafkaConsumer, KafkaProducer

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Namespace:
    """One test's slice of the shared broker and Redis."""

    bootstrap: str
    redis_url: str
    app_id: str = field(default_factory=lambda: f"it-{uuid.uuid4().hex[:10]}")
    partitions: int = 4
    extra_env: dict[str, str] = field(default_factory=dict)
    # Each worker id gets its own local state store under here (kept across its restarts).
    data_root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cs-it-data-")))

    @property
    def prefix(self) -> str:
        return f"{self.app_id}."

    @property
    def redis_prefix(self) -> str:
        return f"cs:{self.app_id}:"

    def topic(self, name: str) -> str:
        return self.prefix + name

    def env(self, worker_id: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CS_")}
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
                "REDIS_URL": self.redis_url,
                "CS_APP_ID": self.app_id,
                "CS_TOPIC_PREFIX": self.prefix,
                "CS_REDIS_PREFIX": self.redis_prefix,
                "CS_TOPIC_PARTITIONS": str(self.partitions),
                "CS_WORKER_ID": worker_id,
                "CS_METRICS_INTERVAL_SECONDS": "1",
                "CS_REBALANCE_TIMEOUT_SECONDS": "2",
                "CS_SESSION_TIMEOUT_SECONDS": "6",
                "CS_LOG_FORMAT": "json",
                "CS_DATA_DIR": str(self.data_root / worker_id),
                # The tests' events are stamped in the past: the wall clock would move every
                # quiet partition months ahead. Tests of the live clock set a lateness.
                "CS_ALLOWED_LATENESS": "off",
                "CS_METRICS_PORT": "0",  # tests that scrape /metrics pick a free port
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(self.extra_env)
        return env

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url, decode_responses=True)

    def cleanup_data(self) -> None:
        shutil.rmtree(self.data_root, ignore_errors=True)

    def cleanup_redis(self) -> None:
        client = self.redis()
        keys = list(client.scan_iter(match=self.redis_prefix + "*", count=1000))
        if keys:
            client.delete(*keys)


class WorkerProcess:
    def __init__(self, ns: Namespace, worker_id: str = "w1") -> None:
        self.ns = ns
        self.worker_id = worker_id
        fd, path = tempfile.mkstemp(prefix=f"cs-it-{worker_id}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_ready: bool = True, timeout: float = 60.0) -> WorkerProcess:
        # A previous process of the same worker id left its metrics snapshot behind: readiness
        # must come from this one.
        self.ns.redis().delete(self.ns.redis_prefix + f"workers:{self.worker_id}")
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "worker"],
                env=self.ns.env(self.worker_id),
                cwd=str(ROOT),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait_ready:
            self.wait_assigned(timeout)
        return self

    def metrics(self) -> dict[str, Any] | None:
        raw = self.ns.redis().hget(self.ns.redis_prefix + f"workers:{self.worker_id}", "metrics")
        return json.loads(raw) if raw else None

    def wait_assigned(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"worker exited {self.proc.returncode}:\n{self.log()}")
            snap = self.metrics()
            if snap and snap.get("assigned_partitions"):
                return
            time.sleep(0.3)
        raise AssertionError(
            f"worker {self.worker_id} got no partitions in {timeout}s:\n{self.log()}"
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def produce(
    ns: Namespace,
    topic: str,
    events: Iterable[dict[str, Any] | bytes],
    key: bytes | None | str = "auto",
) -> None:
    # One record per batch: the embedded broker reports end offsets per batch (see
    # workers/broker_quirks.py), and the tests read progress from end offsets.
    producer = KafkaProducer(bootstrap_servers=ns.bootstrap, acks="all", batch_size=1)
    try:
        for event in events:
            if isinstance(event, bytes):
                value = event
                message_key = key if isinstance(key, bytes) or key is None else None
            else:
                value = json.dumps(event).encode()
                message_key = event["account_id"].encode() if key == "auto" else key
            producer.send(ns.topic(topic), key=message_key, value=value)
        producer.flush()
    finally:
        producer.close()


def read_topic(ns: Namespace, topic: str, idle_ms: int = 1500) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(
        ns.topic(topic),
        bootstrap_servers=ns.bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=idle_ms,
    )
    try:
        return [json.loads(m.value) for m in consumer]
    finally:
        consumer.close()


def wait_for(
    ns: Namespace,
    topic: str,
    predicate: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 45.0,
    workers: Iterable[WorkerProcess] = (),
) -> list[dict[str, Any]]:
    """Poll `topic` until predicate(all messages) holds; fail with the worker logs if not."""
    deadline = time.monotonic() + timeout
    messages: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        messages = read_topic(ns, topic, idle_ms=700)
        if predicate(messages):
            return messages
        time.sleep(0.3)
    logs = "\n".join(f"--- {w.worker_id}\n{w.log()}" for w in workers)
    raise AssertionError(f"timed out waiting on {topic}; got {len(messages)} messages\n{logs}")


def ts(day: int, hour: int = 10, minute: int = 0) -> str:
    """An RFC 3339 timestamp `day` days after 2026-09-01 (day may be negative)."""
    from datetime import UTC, datetime, timedelta

    moment = datetime(2026, 9, 1, hour, minute, tzinfo=UTC) + timedelta(days=day)
    return moment.isoformat().replace("+00:00", "Z")


# --- event builders (dicts as producers send them) ------------------------------------------

_counter = {"n": 0}


def _event_id(prefix: str) -> str:
    _counter["n"] += 1
    return f"{prefix}-{uuid.uuid4().hex[:8]}-{_counter['n']}"


def account_event(account: str, when: str, **facts: Any) -> dict[str, Any]:
    return {"event_id": _event_id("acct"), "account_id": account, "occurred_at": when, **facts}


def usage_event(account: str, user: str, when: str, feature: str = "dashboards") -> dict[str, Any]:
    return {
        "event_id": _event_id("use"),
        "account_id": account,
        "occurred_at": when,
        "user_id": user,
        "feature": feature,
    }


def nps_event(account: str, score: int, when: str, event_id: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id or _event_id("nps"),
        "account_id": account,
        "occurred_at": when,
        "score": score,
    }


def ticket_event(
    account: str, ticket: str, status: str, when: str, priority: str = "normal"
) -> dict[str, Any]:
    return {
        "event_id": _event_id("tkt"),
        "account_id": account,
        "occurred_at": when,
        "ticket_id": ticket,
        "status": status,
        "priority": priority,
    }


def activity_event(
    account: str,
    when: str,
    kind: str = "email",
    direction: str = "outbound",
    *,
    activity_id: str | None = None,
    csm_id: str = "csm-ana",
    **extra: Any,
) -> dict[str, Any]:
    """A CSM touchpoint (activity-events); extra: contact_id, in_reply_to, scheduled_for."""
    event_id = _event_id("act")
    return {
        "event_id": event_id,
        "account_id": account,
        "occurred_at": when,
        "activity_id": activity_id or event_id,
        "kind": kind,
        "direction": direction,
        "csm_id": csm_id,
        **extra,
    }


def milestone_event(
    account: str,
    when: str,
    milestone_id: str,
    due_date: str,
    status: str = "planned",
    *,
    phase: str = "onboard",
    plan_id: str = "plan-1",
    title: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A success-plan milestone (milestone-events); extra: owner."""
    return {
        "event_id": _event_id("ms"),
        "account_id": account,
        "occurred_at": when,
        "plan_id": plan_id,
        "milestone_id": milestone_id,
        "title": title or milestone_id,
        "phase": phase,
        "due_date": due_date,
        "status": status,
        **extra,
    }


def daily_usage(account: str, first_day: int, days: int, users: int) -> list[dict[str, Any]]:
    return [
        usage_event(account, f"user-{u}", ts(first_day + d, 10))
        for d in range(days)
        for u in range(users)
    ]


def wait_consumed(ns: Namespace, timeout: float = 45.0) -> None:
    """Wait until the worker group has committed everything on the input topics."""
    from workers.stream.kafka_io import group_progress

    topics = [
        ns.topic(name)
        for name in (
            "usage-events",
            "ticket-events",
            "nps-events",
            "account-events",
            "activity-events",
            "milestone-events",
        )
    ]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = group_progress(ns.bootstrap, ns.app_id, topics)
        if progress.done:
            return
        time.sleep(0.3)
    raise AssertionError(f"the worker group did not consume everything in {timeout}s")


def produce_in_order(ns: Namespace, steps: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """Produce (topic, events) steps one after another, each only once the previous one has
    been consumed, so events of one account on different topics keep their order."""
    for topic, events in steps:
        produce(ns, topic, events)
        wait_consumed(ns)


def tasks_of(
    messages: list[dict[str, Any]], account: str, playbook: str | None = None
) -> list[dict[str, Any]]:
    return [
        m
        for m in messages
        if m["account_id"] == account and (playbook is None or m["playbook"] == playbook)
    ]


def parse_ts(value: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(value.replace("Z", "+00:00"))


from workers.local.embedded import _redis_server_binary, free_port  # noqa: E402


class OwnRedis:
    """A redis-server of this test's own, without persistence, that can be killed and restarted
    empty on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="cs-it-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = _redis_server_binary()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis(port=self.port, socket_connect_timeout=0.5).ping()
                return
            except redis.RedisError:
                time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)
