"""Task feedback on the real broker: each action, applied by a real worker."""

from __future__ import annotations

import time
import uuid

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
    wait_for,
)

pytestmark = pytest.mark.integration


def _feedback(task: dict, action: str, when: str, **extra: str) -> dict:
    return {
        "event_id": f"fb-{uuid.uuid4().hex[:8]}",
        "account_id": task["account_id"],
        "occurred_at": when,
        "task_id": task["task_id"],
        "playbook": task["playbook"],
        "action": action,
        "by": "ana",
        "source": "board",
        **extra,
    }


def test_each_feedback_action(ns: Namespace, workers: list[WorkerProcess]) -> None:
    worker = WorkerProcess(ns, "fb-1").start()
    workers.append(worker)
    accounts = ["fb-done", "fb-dismiss", "fb-snooze", "fb-ack"]
    produce_in_order(
        ns,
        [
            ("account-events", [account_event(a, ts(0, 8), csm_id="csm-ana") for a in accounts]),
            ("nps-events", [nps_event(a, 2, ts(0, 10)) for a in accounts]),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: all(tasks_of(m, a, "nps_detractor") for a in accounts),
        workers=[worker],
    )
    opened = {a: tasks_of(tasks, a, "nps_detractor")[0] for a in accounts}
    produce(
        ns,
        "task-feedback",
        [
            _feedback(opened["fb-done"], "done", ts(0, 11)),
            _feedback(opened["fb-dismiss"], "dismissed", ts(0, 11), reason="not_useful"),
            _feedback(opened["fb-snooze"], "snoozed", ts(0, 11), until=ts(2, 0)),
            _feedback(opened["fb-ack"], "acknowledged", ts(0, 11)),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: len(tasks_of(m, "fb-done", "nps_detractor")) == 2
        and len(tasks_of(m, "fb-dismiss", "nps_detractor")) == 2,
        workers=[worker],
    )
    done = tasks_of(tasks, "fb-done", "nps_detractor")[-1]
    assert done["action"] == "resolved" and "Marked done by ana" in done["reason"]
    dismissed = tasks_of(tasks, "fb-dismiss", "nps_detractor")[-1]
    assert dismissed["action"] == "resolved"
    assert dismissed["evidence"]["feedback"]["reason"] == "not_useful"
    # A new detractor response while snoozed: held; for the acknowledged one: an update.
    produce(ns, "nps-events", [nps_event(a, 1, ts(1, 10)) for a in ("fb-snooze", "fb-ack")])
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: len(tasks_of(m, "fb-ack", "nps_detractor")) == 2,
        workers=[worker],
    )
    time.sleep(2)
    tasks = read_topic(ns, "playbook-tasks")
    assert [t["action"] for t in tasks_of(tasks, "fb-snooze", "nps_detractor")] == ["opened"]
    assert [t["action"] for t in tasks_of(tasks, "fb-ack", "nps_detractor")] == [
        "opened",
        "updated",
    ]
    snapshot = worker.metrics()
    assert snapshot is not None
    assert snapshot["feedback"]["nps_detractor"] == {
        "acknowledged": 1,
        "dismissed:not_useful": 1,
        "done": 1,
        "snoozed": 1,
    }
