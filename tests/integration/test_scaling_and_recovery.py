"""Two workers sharing the partitions, and a worker killed with SIGKILL and restarted."""

from __future__ import annotations

from collections import defaultdict

import pytest

from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    account_event,
    nps_event,
    produce,
    produce_in_order,
    read_topic,
    tasks_of,
    ts,
    wait_consumed,
    wait_for,
)
from workers.core.lifecycle import task_id

pytestmark = pytest.mark.integration


def _opened_per_account(tasks: list[dict], playbook: str) -> dict[str, set[str]]:
    opened: dict[str, set[str]] = defaultdict(set)
    for task in tasks:
        if task["playbook"] == playbook and task["action"] == "opened":
            opened[task["account_id"]].add(task["task_id"])
    return opened


def test_two_workers_share_partitions_and_raise_each_task_once(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    first = WorkerProcess(ns, "share-1").start()
    workers.append(first)
    second = WorkerProcess(ns, "share-2").start(wait_ready=False)
    workers.append(second)
    second.wait_assigned()
    # wait until the rebalance has settled: the two workers own disjoint partition sets
    # that together cover all of them.
    import time

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        a, b = first.metrics(), second.metrics()
        parts_a = set(a["assigned_partitions"]) if a else set()
        parts_b = set(b["assigned_partitions"]) if b else set()
        if parts_a and parts_b and not parts_a & parts_b and len(parts_a | parts_b) == 4:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no clean split:\n{first.log()}\n{second.log()}")

    accounts = [f"shared-{n}" for n in range(40)]
    produce(ns, "nps-events", [nps_event(a, 2, ts(0, 10)) for a in accounts])
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: len(_opened_per_account(m, "nps_detractor")) == len(accounts),
        workers=[first, second],
    )
    opened = _opened_per_account(tasks, "nps_detractor")
    assert all(len(ids) == 1 for ids in opened.values())
    assert {a: next(iter(ids)) for a, ids in opened.items()} == {
        a: task_id(a, "nps_detractor", 1) for a in accounts
    }
    opened_messages = [
        t for t in tasks if t["playbook"] == "nps_detractor" and t["action"] == "opened"
    ]
    assert len(opened_messages) == len(accounts)
    wait_consumed(ns)
    time.sleep(1.5)  # one more metrics interval
    share_a = first.metrics()["events_in_total"]
    share_b = second.metrics()["events_in_total"]
    assert share_a > 0 and share_b > 0 and share_a + share_b == len(accounts)


def test_sigkill_and_restart_lose_no_state_and_no_task(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    worker = WorkerProcess(ns, "crash-1").start()
    workers.append(worker)
    accounts = [f"crash-{n}" for n in range(12)]
    produce_in_order(
        ns,
        [
            ("account-events", [account_event(a, ts(0, 8), csm_id="csm-ana") for a in accounts]),
            ("nps-events", [nps_event(a, 3, ts(0, 10)) for a in accounts]),
        ],
    )
    wait_for(
        ns,
        "playbook-tasks",
        lambda m: len(_opened_per_account(m, "nps_detractor")) == len(accounts),
        workers=[worker],
    )
    worker.kill()

    # While it is down, a second detractor response arrives for every account.
    produce(ns, "nps-events", [nps_event(a, 1, ts(1, 10)) for a in accounts])
    restarted = WorkerProcess(ns, "crash-2").start(timeout=90)
    workers.append(restarted)
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: all(
            [t["action"] for t in tasks_of(m, a, "nps_detractor")][-1:] == ["updated"]
            for a in accounts
        ),
        timeout=90,
        workers=[restarted],
    )
    for account in accounts:
        detractor = tasks_of(tasks, account, "nps_detractor")
        # The open task survived the crash: the new response updates it, never a 2nd opening,
        # and the owner (from account facts before the crash) is still known.
        assert {t["task_id"] for t in detractor} == {task_id(account, "nps_detractor", 1)}
        assert [t["action"] for t in detractor if t["action"] == "opened"] == ["opened"]
        assert detractor[-1]["owner_id"] == "csm-ana"
    # Health history continued from the restored state, not from scratch.
    scores = [s for s in read_topic(ns, "health-scores") if s["account_id"] == accounts[0]]
    assert scores[-1]["previous_score"] is not None


@pytest.mark.soak  # a minute of SIGKILLs under load: with the fault suite (-m soak), and
# bench/soak_restarts.py kills 20 times; the SIGKILL + restart above stays in the default run
def test_sigkill_mid_stream_loses_no_task(ns: Namespace, workers: list[WorkerProcess]) -> None:
    worker = WorkerProcess(ns, "mid-1").start()
    workers.append(worker)
    accounts = [f"mid-{n}" for n in range(300)]
    produce(ns, "nps-events", [nps_event(a, 2, ts(0, 10)) for a in accounts])
    # Kill as soon as the first tasks appear, while most of the input is unprocessed.
    wait_for(ns, "playbook-tasks", lambda m: len(m) >= 1, workers=[worker], timeout=60)
    worker.kill()
    restarted = WorkerProcess(ns, "mid-2").start(timeout=90)
    workers.append(restarted)
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: len(_opened_per_account(m, "nps_detractor")) == len(accounts),
        timeout=120,
        workers=[restarted],
    )
    opened = _opened_per_account(tasks, "nps_detractor")
    # every account got its task, and never under two different ids
    assert set(opened) == set(accounts)
    assert all(ids == {task_id(a, "nps_detractor", 1)} for a, ids in opened.items())
