"""The Redis view heals: Redis killed under traffic and restarted empty (no persistence), the
worker re-writes its accounts' health and open tasks from its own state."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    account_event,
    nps_event,
    produce,
    tasks_of,
    ts,
    wait_consumed,
    wait_for,
)
from workers.local.embedded import free_port

pytestmark = pytest.mark.integration


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
        from workers.local.embedded import _redis_server_binary

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


@pytest.fixture
def own_redis(ns: Namespace) -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    shared, ns.redis_url = ns.redis_url, server.url
    yield server
    ns.redis_url = shared  # the shared Redis, for the namespace's own clean-up
    server.close()


def _open_task_ids(messages: list[dict]) -> set[str]:
    latest = {m["task_id"]: m["action"] for m in messages}
    return {task_id for task_id, action in latest.items() if action != "resolved"}


def test_redis_restarted_empty_is_repaired(
    ns: Namespace, workers: list[WorkerProcess], own_redis: OwnRedis
) -> None:
    worker = WorkerProcess(ns, "heal-1").start()
    workers.append(worker)
    accounts = [f"heal-{n}" for n in range(60)]
    produce(ns, "account-events", [account_event(a, ts(0, 8), csm_id="csm-h") for a in accounts])
    wait_consumed(ns)
    produce(ns, "nps-events", [nps_event(a, 2, ts(0, 10)) for a in accounts[:30]])
    # Redis dies while the rest flows.
    own_redis.kill()
    produce(ns, "nps-events", [nps_event(a, 2, ts(0, 10)) for a in accounts[30:]])
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: all(tasks_of(m, a, "nps_detractor") for a in accounts),
        workers=[worker],
    )
    expected_open = _open_task_ids(tasks)
    time.sleep(3)
    own_redis.start()  # back, empty
    restarted = time.monotonic()
    client = ns.redis()
    deadline = time.monotonic() + 30
    open_tasks: dict[str, str] = {}
    ranked = 0
    while time.monotonic() < deadline:
        open_tasks = client.hgetall(ns.redis_prefix + "tasks:open")
        ranked = client.zcard(ns.redis_prefix + "health:ranking")
        if set(open_tasks) == expected_open and ranked == len(accounts):
            break
        time.sleep(0.3)
    repaired_in = time.monotonic() - restarted
    assert set(open_tasks) == expected_open, worker.log()
    assert ranked == len(accounts)
    assert client.hget(ns.redis_prefix + "health:heal-0", "csm_id") == "csm-h"
    print(f"view repaired {repaired_in:.1f}s after Redis came back empty")
    snapshot = worker.metrics()
    deadline = time.monotonic() + 10
    while (snapshot is None or not snapshot.get("view_repairs")) and time.monotonic() < deadline:
        time.sleep(0.5)
        snapshot = worker.metrics()
    assert snapshot and snapshot["view_repairs"] >= len(accounts)
    assert snapshot["view_last_repair"]
