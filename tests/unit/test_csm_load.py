"""The CSM load view's pure parts: which activities count, ISO weeks, the ops-metrics counters
(the Redis side is tested on a real Redis in tests/integration/test_engagement.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from events.models import ActivityEvent, PlaybookTask
from workers.stream.csm_load import MAX_WEEKS, Touch, count_load, touch_of, week_of
from workers.stream.ops_metrics import WorkerMetrics


def activity(**fields: Any) -> ActivityEvent:
    base = {
        "event_id": "e1",
        "account_id": "acc-1",
        "occurred_at": "2026-09-01T10:00:00Z",
        "activity_id": "a1",
        "kind": "email",
        "direction": "outbound",
        "csm_id": "csm-ana",
    }
    return ActivityEvent.model_validate({**base, **fields})


def task(action: str, when: datetime, owner: str | None = "csm-ana") -> PlaybookTask:
    return PlaybookTask(
        task_id="t1",
        action=action,  # type: ignore[arg-type]
        account_id="acc-1",
        playbook="customer_unresponsive",
        title="Customer unresponsive",
        priority="high",
        owner_role="csm",
        owner_id=owner,
        due_at=when,
        created_at=when,
        reason="r",
        evidence={},
        steps=[],
        health=None,
        occurred_at=when,
    )


def test_iso_weeks() -> None:
    assert week_of(datetime(2026, 8, 31, tzinfo=UTC)) == "2026-W36"  # a Monday
    assert week_of(datetime(2026, 9, 6, 23, 59, tzinfo=UTC)) == "2026-W36"
    assert week_of(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"


def test_touchpoints_are_outbound_and_inbound_activities_not_notes_or_bookings() -> None:
    assert touch_of(activity()) == Touch("csm-ana", "2026-W36", "email", "outbound")
    assert touch_of(activity(direction="inbound", kind="call")) == Touch(
        "csm-ana", "2026-W36", "call", "inbound"
    )
    assert touch_of(activity(kind="note")) is None
    assert touch_of(activity(kind="qbr", scheduled_for="2026-09-20T15:00:00Z")) is None
    assert touch_of(activity(kind="qbr", scheduled_for="2026-09-01T10:00:00Z")) is not None


def test_ops_metrics_count_touchpoints_and_tasks_per_csm_and_week() -> None:
    metrics = WorkerMetrics(worker_id="w", app_id="a")
    sept = datetime(2026, 9, 2, tzinfo=UTC)
    count_load(
        metrics.csm_load,
        [touch_of(activity()), touch_of(activity(direction="inbound"))],  # type: ignore[list-item]
        [task("opened", sept), task("updated", sept), task("opened", sept, owner=None)],
    )
    count_load(metrics.csm_load, [], [task("resolved", datetime(2026, 9, 8, tzinfo=UTC))])
    snap = metrics.snapshot(
        at="x", interval_seconds=1, consumer_lag={}, assigned_partitions=[], event_clock={}
    )
    assert snap["csm_load"] == {
        "_unassigned": {"2026-W36": {"tasks_opened": 1}},
        "csm-ana": {
            "2026-W36": {"inbound": 1, "tasks_opened": 1, "touch:email": 1, "touchpoints": 1},
            "2026-W37": {"tasks_resolved": 1},
        },
    }


def test_ops_metrics_keep_each_csms_latest_weeks() -> None:
    load: dict[str, Any] = {}
    touches = [Touch("csm-ana", f"2026-W{w:02d}", "call", "outbound") for w in range(30, 40)]
    count_load(load, touches, [])
    assert sorted(load["csm-ana"]) == [f"2026-W{w}" for w in range(40 - MAX_WEEKS, 40)]
