"""CRM sync pure parts: field mapping over the defaults, the feedback event, HubSpot's
multi-status answers, Salesforce's SOQL; and the HubSpot client against the local fake."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest

from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.tasks import task
from workers.delivery.crm_common import ClosedInCrm, feedback_event
from workers.delivery.crm_mapping import (
    HUBSPOT_DEFAULTS,
    SALESFORCE_DEFAULTS,
    parse_crm_mapping,
)
from workers.delivery.hubspot import HubSpotSync, _failed_inputs
from workers.delivery.messages import TaskMessage
from workers.delivery.retry import Fatal, RetryPolicy
from workers.delivery.salesforce import soql_closed


def test_hubspot_defaults() -> None:
    mapping = parse_crm_mapping({}, HUBSPOT_DEFAULTS)
    opened = mapping.record(task("t1", "opened", "acc-1", "csm-ana"))
    assert opened == {
        "hs_task_subject": "Usage dropped — acc-1",
        "hs_task_body": "Active users fell from 40 to 22 (-45%) week over week.\n\nSteps:\n"
        "- Send a check-in email\n- Call if no answer within 48 h",
        "hs_task_priority": "HIGH",
        "hs_timestamp": "1788429600000",
        "hs_task_type": "TODO",
        "hs_task_status": "NOT_STARTED",
    }
    assert "hs_task_status" not in mapping.record(task("t1", "updated", "acc-1", None))
    assert mapping.record(task("t1", "resolved", "acc-1", None))["hs_task_status"] == "COMPLETED"
    assert mapping.id_field == "cs_task_id" and mapping.closed_value == "COMPLETED"


def test_salesforce_defaults_and_overrides() -> None:
    mapping = parse_crm_mapping(
        {
            "id_field": "Signal_Task__c",
            "status": {"opened": "Open", "resolved": "Done"},
            "fields": {
                "Description": None,
                "OwnerId": {"from": "owner_id", "map": {"csm-ana": "005A"}},
                "Subject": {"template": "[{priority}] {title}", "max_length": 12},
                "Due__c": {"from": "due_at", "format": "datetime"},
            },
        },
        SALESFORCE_DEFAULTS,
    )
    record = mapping.record(task("t1", "opened", "acc-1", "csm-ana"))
    assert record == {
        "Subject": "[high] Usag…",
        "Priority": "High",
        "ActivityDate": "2026-09-03",
        "OwnerId": "005A",
        "Due__c": "2026-09-03T10:00:00Z",
        "Status": "Open",
    }
    assert "OwnerId" not in mapping.record(task("t1", "opened", "acc-1", "csm-unknown"))
    assert mapping.id_field == "Signal_Task__c"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"fields": {"X": "{nope}"}}, "fields.X: bad template"),
        ({"fields": {"X": {"from": "colour"}}}, "fields.X.from"),
        ({"fields": {"X": {"from": "due_at", "format": "unix"}}}, "fields.X.format"),
        ({"fields": {"X": {"template": "a", "from": "title"}}}, "exactly one"),
        ({"fields": {"Status": "x"}}, "set by the sync itself"),
        ({"status": {"resolved": None}}, "status.resolved is required"),
        ({"status": {"closed": "x"}}, "status.closed"),
        ({"colour": 1}, "unknown key"),
    ],
)
def test_bad_mappings_name_the_entry(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_crm_mapping(data, SALESFORCE_DEFAULTS)


def test_feedback_event_is_deterministic() -> None:
    closed = ClosedInCrm("t1", datetime(2026, 11, 23, 9, 30, tzinfo=UTC), None, "00T1")
    event = feedback_event("crm:salesforce", closed, "acc-1", "usage_drop")
    assert event == feedback_event("crm:salesforce", closed, "acc-1", "usage_drop")
    assert event["event_id"] == "crm:salesforce:t1:done"
    assert event["occurred_at"] == "2026-11-23T09:30:00Z"
    assert event["action"] == "done" and event["source"] == "crm:salesforce"
    assert event["by"] == "crm:salesforce" and "00T1" in event["note"]


def _message(task_id: str) -> TaskMessage:
    return TaskMessage("t", 0, 0, b"{}", task(task_id, "opened", "a", None))


def test_hubspot_multi_status_attribution() -> None:
    sent = [_message("a"), _message("b"), _message("c")]
    named = {"errors": [{"message": "bad b", "context": {"ids": ["b"]}}], "results": []}
    assert _failed_inputs(207, named, sent, "cs_task_id") == {
        "b": "HubSpot rejected the task: bad b"
    }
    unnamed = {
        "errors": [{"message": "something"}],
        "results": [{"properties": {"cs_task_id": "a"}}, {"properties": {"cs_task_id": "c"}}],
    }
    assert list(_failed_inputs(207, unnamed, sent, "cs_task_id")) == ["b"]
    assert _failed_inputs(200, named, sent, "cs_task_id") == {}


def test_soql_for_closed_tasks() -> None:
    query = soql_closed("CS_Task_Id__c", datetime(2026, 11, 23, 9, 30, 15, 500, tzinfo=UTC))
    assert "FROM Task WHERE IsClosed = true AND CS_Task_Id__c != null" in query
    assert "LastModifiedDate >= 2026-11-23T09:30:15Z" in query
    with pytest.raises(ValueError):
        soql_closed("x; DELETE", datetime.now(UTC))


class _State:
    async def remember(self, task: dict[str, Any]) -> None:
        pass

    async def mark_closed(self, task_id: str, by: str) -> None:
        pass


class _Log:
    def info(self, *args: Any, **kwargs: Any) -> None:
        pass


def test_hubspot_rounds_keep_task_order_and_search_pages() -> None:
    async def go(fake: FakeHubSpot) -> None:
        async with aiohttp.ClientSession() as session:

            async def sleep(seconds: float) -> None:
                await asyncio.sleep(0)

            mapping = parse_crm_mapping({}, HUBSPOT_DEFAULTS)
            sync = HubSpotSync(
                session,
                fake.url,
                fake.token,
                mapping,
                _State(),
                RetryPolicy(),
                sleep,
                _Log(),  # type: ignore[arg-type]
            )
            batch = [
                TaskMessage("t", 0, n, b"{}", task(f"t{n % 3}", action, "a", None))
                for n, action in enumerate(["opened"] * 3 + ["updated"] * 3 + ["resolved"] * 3)
            ]
            assert await sync.deliver(batch) == []
            assert fake.answered == [200, 200, 200]  # three rounds of three, ids unique per round
            for n in range(3):
                assert [h.get("hs_task_status", "-") for h in fake.record(f"t{n}")["history"]] == [
                    "NOT_STARTED",
                    "-",
                    "COMPLETED",
                ]
            closed = await sync.closed_since(datetime(2020, 1, 1, tzinfo=UTC))
            assert sorted(c.task_id for c in closed) == ["t0", "t1", "t2"]
            bad = HubSpotSync(
                session,
                fake.url,
                "wrong",
                mapping,
                _State(),
                RetryPolicy(),
                sleep,
                _Log(),  # type: ignore[arg-type]
            )
            with pytest.raises(Fatal):
                await bad.deliver(batch[:1])

    with FakeHubSpot() as fake:
        asyncio.run(go(fake))
