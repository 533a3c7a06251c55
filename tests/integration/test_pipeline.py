"""One real worker on the embedded broker and a real Redis: triggers, dead letters,
duplicates, re-routing, the Redis view and ops metrics, read from the real output topics."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    account_event,
    daily_usage,
    nps_event,
    produce,
    produce_in_order,
    read_topic,
    tasks_of,
    ticket_event,
    ts,
    usage_event,
    wait_for,
)
from workers.core.lifecycle import task_id

pytestmark = pytest.mark.integration

MAX_EVENT_BYTES = 20_000


@pytest.fixture(scope="module")
def env(broker, redis_url) -> Iterator[tuple[Namespace, WorkerProcess]]:  # type: ignore[no-untyped-def]
    ns = Namespace(
        bootstrap=broker.bootstrap,
        redis_url=redis_url,
        extra_env={"CS_MAX_EVENT_BYTES": str(MAX_EVENT_BYTES)},
    )
    worker = WorkerProcess(ns, "pipeline-1").start()
    yield ns, worker
    worker.stop()
    ns.cleanup_redis()
    worker.log_path.unlink(missing_ok=True)


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_nps_detractor_task_health_and_redis_view(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    produce_in_order(
        ns,
        [
            ("account-events", [account_event("det-1", ts(0, 9), csm_id="csm-ana", segment="smb")]),
            ("nps-events", [nps_event("det-1", 3, ts(0, 10))]),
        ],
    )
    tasks = wait_for(
        ns, "playbook-tasks", lambda m: tasks_of(m, "det-1", "nps_detractor"), workers=[worker]
    )
    task = tasks_of(tasks, "det-1", "nps_detractor")[0]
    assert task["action"] == "opened"
    assert task["task_id"] == task_id("det-1", "nps_detractor", 1)
    assert task["priority"] == "high"
    assert task["owner_id"] == "csm-ana"
    assert _parse(task["due_at"]) - _parse(ts(0, 10)) == timedelta(hours=24)
    assert "3" in task["reason"]
    assert task["evidence"] and task["steps"] and task["schema_version"] == 1

    scores = [s for s in read_topic(ns, "health-scores") if s["account_id"] == "det-1"]
    assert scores and all(20 <= s["score"] <= 100 for s in scores)
    assert "satisfaction" in scores[-1]["components"]

    client = ns.redis()
    view = client.hgetall(f"{ns.redis_prefix}health:det-1")
    assert float(view["score"]) == scores[-1]["score"]
    assert view["band"] == scores[-1]["band"]
    assert json.loads(view["components"])
    assert client.zscore(f"{ns.redis_prefix}health:ranking", "det-1") == scores[-1]["score"]
    feed = client.xrange(f"{ns.redis_prefix}feed:csm-ana")
    assert any(entry["task_id"] == task["task_id"] for _id, entry in feed)
    assert task["task_id"] in client.hgetall(f"{ns.redis_prefix}tasks:open")


def test_enterprise_escalation_is_critical_and_due_in_four_hours(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    produce_in_order(
        ns,
        [
            (
                "account-events",
                [account_event("esc-1", ts(0, 8), segment="enterprise", csm_id="csm-bo")],
            ),
            (
                "ticket-events",
                [
                    ticket_event("esc-1", "T-1", "opened", ts(0, 9), "high"),
                    ticket_event("esc-1", "T-1", "escalated", ts(0, 10), "high"),
                ],
            ),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: tasks_of(m, "esc-1", "support_escalation"),
        workers=[worker],
    )
    task = tasks_of(tasks, "esc-1", "support_escalation")[0]
    assert task["priority"] == "critical"
    assert _parse(task["due_at"]) - _parse(ts(0, 10)) == timedelta(hours=4)
    assert "T-1" in task["reason"]


def test_usage_drop_then_recovery_resolves(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    produce_in_order(
        ns,
        [
            ("account-events", [account_event("drop-1", ts(0, 1), licensed_seats=30, csm_id="c")]),
            (
                # 24 -> 10 users (significant, and held the 3 days the guard confirms over)
                "usage-events",
                daily_usage("drop-1", 0, 7, 24)
                + daily_usage("drop-1", 7, 12, 10)
                + [usage_event("drop-1", "user-0", ts(19, 1))],
            ),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: tasks_of(m, "drop-1", "usage_drop") and tasks_of(m, "drop-1", "health_at_risk"),
        workers=[worker],
    )
    opened = tasks_of(tasks, "drop-1", "usage_drop")
    assert [t["action"] for t in opened] == ["opened"]
    assert "58%" in opened[0]["reason"] and "(24 → 10)" in opened[0]["reason"]
    # health fell with usage: at-risk opened from above (after 4 days in the band)
    assert [t["action"] for t in tasks_of(tasks, "drop-1", "health_at_risk")] == ["opened"]

    produce(
        ns,
        "usage-events",
        daily_usage("drop-1", 19, 7, 24) + [usage_event("drop-1", "user-0", ts(26, 1))],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: (
            [t["action"] for t in tasks_of(m, "drop-1", "usage_drop")] == ["opened", "resolved"]
        ),
        workers=[worker],
    )
    resolved = tasks_of(tasks, "drop-1", "usage_drop")[-1]
    assert resolved["task_id"] == opened[0]["task_id"]
    assert resolved["reason"]


def test_at_risk_escalates_to_critical_instead_of_a_second_task(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    produce_in_order(
        ns,
        [
            ("account-events", [account_event("crit-1", ts(0, 9), csm_id="csm-cy")]),
            ("nps-events", [nps_event("crit-1", 9, ts(0, 10))]),
            ("nps-events", [nps_event("crit-1", 3, ts(1, 10))]),
            # after the 4 days health_at_risk waits for in the band
            ("ticket-events", [ticket_event("crit-1", "T-7", "escalated", ts(6, 11), "high")]),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: any(t["priority"] == "critical" for t in tasks_of(m, "crit-1", "health_at_risk")),
        workers=[worker],
    )
    at_risk = tasks_of(tasks, "crit-1", "health_at_risk")
    assert [t["action"] for t in at_risk] == ["opened", "updated"]
    assert at_risk[1]["previous_priority"] == "high"
    assert len({t["task_id"] for t in at_risk}) == 1
    assert tasks_of(tasks, "crit-1", "health_critical") == []


def test_health_critical_opens_when_no_at_risk_task_is_open(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    # A first score of 60 (a detractor, no tickets) does not count as "entering at risk from
    # above"; the escalation then takes it straight to 20, and no at-risk task is open.
    produce_in_order(
        ns,
        [
            ("nps-events", [nps_event("crit-2", 0, ts(0, 10))]),
            ("ticket-events", [ticket_event("crit-2", "T-9", "escalated", ts(0, 11), "high")]),
        ],
    )
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: tasks_of(m, "crit-2", "health_critical"),
        workers=[worker],
    )
    critical = tasks_of(tasks, "crit-2", "health_critical")[0]
    assert critical["priority"] == "critical"
    assert critical["owner_id"] is None  # no account facts yet
    assert critical["health"]["band"] == "critical"


def test_bad_input_becomes_dead_letters_and_the_worker_keeps_going(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    good = nps_event("after-bad", 2, ts(0, 12))
    huge = json.dumps(
        {**nps_event("bad", 2, ts(0, 12)), "comment": "x" * (MAX_EVENT_BYTES + 100)}
    ).encode()
    bad: list[tuple[str, bytes]] = [
        ("nps-events", b'{"event_id": "m1", "account_id": "bad", "score": '),  # malformed JSON
        (
            "usage-events",
            json.dumps(
                {**usage_event("bad", "u", ts(0, 1)), "quantity": "3"}
            ).encode(),  # wrong type
        ),
        (
            "nps-events",
            json.dumps({"account_id": "bad", "occurred_at": ts(0, 1), "score": 5}).encode(),
        ),  # missing event_id
        (
            "nps-events",
            json.dumps(
                {**nps_event("bad", 5, ts(0, 1)), "occurred_at": "2026-09-01T10:00:00"}
            ).encode(),
        ),  # no zone
        ("nps-events", json.dumps(nps_event("bad", 11, ts(0, 1))).encode()),  # out of range
        ("nps-events", huge),  # over the size limit
        ("ticket-events", b"\xff\xfe\x00binary"),  # not UTF-8
        ("nps-events", b""),  # empty
        ("usage-events", b"   "),  # only whitespace
        ("account-events", b"\r\n\t \n"),  # only whitespace, of every kind
    ]
    for topic, payload in bad:
        produce(ns, topic, [payload], key=b"bad")
    produce(ns, "nps-events", [good])

    letters = wait_for(ns, "dead-letters", lambda m: len(m) >= len(bad), workers=[worker])
    errors = " | ".join(letter["error"] for letter in letters)
    assert "JSON" in errors
    assert "quantity" in errors
    assert "event_id" in errors
    assert "zone" in errors
    assert "score" in errors
    assert "limit" in errors or "bytes" in errors
    assert "UTF-8" in errors or "utf-8" in errors
    oversize = next(letter for letter in letters if letter["payload_size"] == len(huge))
    assert oversize["payload_truncated"] is True
    assert len(oversize["payload"]) < len(huge)
    binary = next(letter for letter in letters if letter["source_topic"] == "ticket-events")
    assert binary["payload_encoding"] == "base64"
    assert base64.b64decode(binary["payload"]) == b"\xff\xfe\x00binary"
    assert all(
        {"source_topic", "partition", "offset", "error", "payload", "received_at"} <= set(letter)
        for letter in letters
    )
    # Empty and whitespace-only payloads keep the contract's fields too, payload included.
    blank = {letter["payload"] for letter in letters if "empty" in letter["error"]}
    assert blank == {"", "   ", "\r\n\t \n"}
    # ... and a valid event after all that is processed normally.
    wait_for(
        ns, "playbook-tasks", lambda m: tasks_of(m, "after-bad", "nps_detractor"), workers=[worker]
    )


def test_a_redelivered_event_counts_once(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    first = nps_event("dup-1", 2, ts(0, 10), event_id="dup-1-nps-a")
    produce_in_order(ns, [("nps-events", [first, first, first])])
    produce_in_order(ns, [("nps-events", [nps_event("dup-1", 1, ts(0, 11))])])
    tasks = wait_for(
        ns,
        "playbook-tasks",
        lambda m: len(tasks_of(m, "dup-1", "nps_detractor")) >= 2,
        workers=[worker],
    )
    # The copies changed nothing: one opened, and the second *distinct* response an update.
    assert [t["action"] for t in tasks_of(tasks, "dup-1", "nps_detractor")] == ["opened", "updated"]
    snapshot = worker.metrics()
    assert snapshot is not None and snapshot["duplicates"] >= 2


def test_unkeyed_events_are_rerouted_to_their_account_partition(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    produce(ns, "nps-events", [nps_event("nokey-1", 0, ts(0, 10))], key=None)
    tasks = wait_for(
        ns, "playbook-tasks", lambda m: tasks_of(m, "nokey-1", "nps_detractor"), workers=[worker]
    )
    assert len(tasks_of(tasks, "nokey-1", "nps_detractor")) == 1


def test_ops_metrics_are_published(env) -> None:  # type: ignore[no-untyped-def]
    ns, worker = env
    produce_in_order(ns, [("nps-events", [nps_event("ops-1", 2, ts(0, 10))])])
    snapshots = wait_for(
        ns,
        "ops-metrics",
        lambda m: any(s["events_in_total"] > 0 for s in m),
        workers=[worker],
    )
    latest = snapshots[-1]
    assert latest["worker_id"] == "pipeline-1"
    assert latest["events_in"].get("nps-events", 0) >= 1
    assert "nps_detractor" in latest["tasks_out"]
    assert latest["consumer_lag_total"] >= 0
    assert set(latest["processing_latency_ms"]) == {"count", "p50", "p99", "max"}
    assert latest["assigned_partitions"]
