"""The Redis view heals: Redis killed under traffic and restarted empty (no persistence), the
worker re-writes its accounts' health and open tasks from its own state."""

from __future__ import annotations

import time

import pytest

from tests.integration.harness import (
    Namespace,
    OwnRedis,
    WorkerProcess,
    account_event,
    nps_event,
    produce,
    tasks_of,
    ts,
    wait_consumed,
    wait_for,
)

pytestmark = pytest.mark.integration


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
