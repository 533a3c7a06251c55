"""Engagement on the real broker (issue 10): CSM touchpoints on `activity-events` and success-plan
milestones on `milestone-events`, applied by a real worker on the event-time clock (the harness
sets CS_ALLOWED_LATENESS=off: time moves with later events on the partition), and the CSM load
view in Redis and ops-metrics."""

from __future__ import annotations

import time

import pytest

from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    account_event,
    activity_event,
    milestone_event,
    parse_ts,
    produce_in_order,
    read_topic,
    tasks_of,
    ts,
    usage_event,
    wait_for,
)
from workers.stream.partitioning import partition_for

pytestmark = pytest.mark.integration

PARTITIONS = 4


def _drivers(prefix: str) -> list[str]:
    """One account per partition whose usage moves every partition's clock."""
    found: dict[int, str] = {}
    n = 0
    while len(found) < PARTITIONS:
        name = f"{prefix}-{n}"
        found.setdefault(partition_for(name.encode(), PARTITIONS), name)
        n += 1
    return list(found.values())


def _drive(drivers: list[str], first_day: int, last_day: int) -> list[dict]:
    return [
        usage_event(d, "driver-user", ts(day, 12))
        for day in range(first_day, last_day + 1)
        for d in drivers
    ]


def _wait_redis(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_an_unanswered_outreach_raises_customer_unresponsive_and_the_reply_resolves_it(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    ns.partitions = PARTITIONS
    worker = WorkerProcess(ns, "eng-1").start()
    workers.append(worker)
    drivers = _drivers("eng-driver")
    account = "eng-silent"
    produce_in_order(
        ns,
        [
            (
                "account-events",
                [account_event(account, ts(0, 8), segment="mid_market", csm_id="csm-ana")]
                + [account_event(d, ts(0, 8), licensed_seats=5) for d in drivers],
            ),
            (
                "activity-events",
                [
                    activity_event(account, ts(0, 10), "email", activity_id="mail-1"),
                    activity_event(account, ts(0, 11), "note"),
                ],
            ),
            ("usage-events", _drive(drivers, 0, 8)),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: tasks_of(m, account, "customer_unresponsive"),
        workers=[worker],
    )
    (opened,) = tasks_of(tasks, account, "customer_unresponsive")
    assert opened["action"] == "opened" and opened["priority"] == "high"
    assert opened["owner_id"] == "csm-ana" and opened["evidence"]["activity_id"] == "mail-1"
    assert parse_ts(opened["created_at"]) == parse_ts(ts(7, 10))  # 7 days, to the boundary

    # The CSM load view: one touchpoint (the note is none); the task open for csm-ana (beside
    # the account's health task: no usage at all and an unresponsive customer).
    r = ns.redis()
    p = ns.redis_prefix
    week0 = f"{p}csm:csm-ana:week:2026-W36"  # 2026-09-01
    load = _wait_redis(lambda: r.hgetall(week0))
    assert load.get("touchpoints") == "1" and load.get("touch:email") == "1"
    assert "note" not in "".join(load)
    open_tasks = f"{p}csm:csm-ana:open_tasks"
    assert _wait_redis(lambda: opened["task_id"] in r.smembers(open_tasks))
    assert "csm-ana" in r.smembers(f"{p}csm:ids")

    # The customer replies on day 9: resolved at once, nothing else needed.
    produce_in_order(
        ns,
        [
            (
                "activity-events",
                [activity_event(account, ts(9, 15), "email", "inbound", in_reply_to="mail-1")],
            )
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: len(tasks_of(m, account, "customer_unresponsive")) == 2,
        workers=[worker],
    )
    resolved = tasks_of(tasks, account, "customer_unresponsive")[1]
    assert resolved["action"] == "resolved" and resolved["task_id"] == opened["task_id"]
    assert parse_ts(resolved["occurred_at"]) == parse_ts(ts(9, 15))
    assert "replied on 2026-09-10" in resolved["reason"]
    assert _wait_redis(lambda: opened["task_id"] not in r.smembers(open_tasks))
    week1 = r.hgetall(f"{p}csm:csm-ana:week:2026-W37")
    assert week1.get("inbound") == "1" and week1.get("tasks_resolved") == "1"
    assert r.hgetall(week0).get("tasks_opened") is None  # opened on 2026-09-08 (W37)
    assert int(week1.get("tasks_opened", 0)) >= 1
    # A health score with the account's facts puts it in the CSM's book.
    assert _wait_redis(lambda: r.smembers(f"{p}csm:csm-ana:accounts:mid_market")) == {account}

    # The book is rebalanced: the account follows its new CSM (no score change needed).
    produce_in_order(ns, [("account-events", [account_event(account, ts(9, 16), csm_id="csm-bo")])])
    assert _wait_redis(lambda: r.smembers(f"{p}csm:csm-bo:accounts:mid_market")) == {account}
    assert not r.smembers(f"{p}csm:csm-ana:accounts:mid_market")

    def load_in_metrics() -> dict:
        snapshot = worker.metrics() or {}
        return (snapshot.get("csm_load") or {}).get("csm-ana", {})

    weeks = _wait_redis(lambda: len(load_in_metrics()) == 2 and load_in_metrics())
    assert weeks["2026-W36"]["touchpoints"] == 1
    assert weeks["2026-W37"]["inbound"] == 1 and weeks["2026-W37"]["tasks_resolved"] == 1
    # Exactly one episode: the time that passed raised no second task.
    everything = read_topic(ns, "playbook-tasks")
    assert [t["action"] for t in tasks_of(everything, account, "customer_unresponsive")] == [
        "opened",
        "resolved",
    ]


def test_a_milestone_passing_its_due_date_and_a_qbr_falling_due(
    ns: Namespace, workers: list[WorkerProcess]
) -> None:
    ns.partitions = PARTITIONS
    worker = WorkerProcess(ns, "eng-2").start()
    workers.append(worker)
    drivers = _drivers("eng2-driver")
    plan = "eng-plan"
    qbr = "eng-qbr"
    produce_in_order(
        ns,
        [
            (
                "account-events",
                [
                    account_event(plan, ts(0, 8), segment="mid_market", csm_id="csm-bo"),
                    # enterprise: QBR every 90 days; the first contract-cycle date after the
                    # first touchpoint is 2026-07-23 + 90 days = 2026-10-21 (day 50)
                    account_event(
                        qbr,
                        ts(0, 8),
                        segment="enterprise",
                        csm_id="csm-cy",
                        contract_start="2026-07-23",
                    ),
                ]
                + [account_event(d, ts(0, 8), licensed_seats=5) for d in drivers],
            ),
            (
                "milestone-events",
                [
                    milestone_event(plan, ts(0, 9), "kickoff", "2026-09-02", "done"),
                    milestone_event(
                        plan, ts(0, 9), "sso", "2026-09-04", "in_progress", owner="it-lead"
                    ),
                    milestone_event(plan, ts(0, 9), "dashboards", "2026-10-30", phase="adopt"),
                ],
            ),
            ("activity-events", [activity_event(qbr, ts(0, 10), "meeting", csm_id="csm-cy")]),
            ("usage-events", _drive(drivers, 0, 30)),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: tasks_of(m, plan, "milestone_overdue") and tasks_of(m, qbr, "qbr_due"),
        workers=[worker],
    )
    (overdue,) = tasks_of(tasks, plan, "milestone_overdue")
    assert overdue["action"] == "opened" and overdue["priority"] == "high"  # onboard phase
    assert parse_ts(overdue["created_at"]) == parse_ts(ts(4, 0))  # 2026-09-04 has passed
    (milestone,) = overdue["evidence"]["milestones"]
    assert milestone["milestone_id"] == "sso" and milestone["owner"] == "it-lead"

    (due,) = tasks_of(tasks, qbr, "qbr_due")
    assert due["action"] == "opened" and due["owner_id"] == "csm-cy"
    assert due["owner_role"] == "csm_with_account_executive"
    assert due["evidence"]["qbr_due"] == "2026-10-21"
    assert parse_ts(due["created_at"]) == parse_ts(ts(29, 0))  # 21 days before

    # The milestone is done and the QBR is booked: both resolve.
    produce_in_order(
        ns,
        [
            ("milestone-events", [milestone_event(plan, ts(31, 9), "sso", "2026-09-04", "done")]),
            (
                "activity-events",
                [activity_event(qbr, ts(31, 10), "qbr", csm_id="csm-cy", scheduled_for=ts(45, 15))],
            ),
            ("usage-events", _drive(drivers, 31, 32)),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: (
            len(tasks_of(m, plan, "milestone_overdue")) == 2
            and len(tasks_of(m, qbr, "qbr_due")) == 2
        ),
        workers=[worker],
    )
    assert tasks_of(tasks, plan, "milestone_overdue")[1]["action"] == "resolved"
    booked = tasks_of(tasks, qbr, "qbr_due")[1]
    assert booked["action"] == "resolved" and "booked for 2026-10-16" in booked["reason"]
    # The enterprise check-in (a meeting on day 0, every 30 days) fell due on the way.
    cadence = tasks_of(tasks, qbr, "cadence_overdue")
    assert [t["action"] for t in cadence] == ["opened"]
    assert parse_ts(cadence[0]["created_at"]) == parse_ts(ts(31, 0))
