"""`cs-signals sync hubspot|salesforce` against local CRM APIs and the real broker and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.salesforce import FakeSalesforce
from tests.integration.delivery_helpers import (
    DeliveryProcess,
    committed_all,
    lifecycle,
    task,
    wait_until,
)
from tests.integration.harness import Namespace, produce, read_topic

pytestmark = pytest.mark.integration


@dataclass
class Crm:
    name: str
    fake: Any
    env: dict[str, str]
    mapping: str
    status_field: str
    open_status: str
    closed_status: str
    owner_field: str

    def history(self, task_id: str) -> list[dict[str, Any]]:
        record = self.fake.record(task_id)
        return list(record["history"]) if record else []

    def created(self, entry: dict[str, Any]) -> bool:
        return bool(entry.get("new", entry.get("created")))


def _mapping(id_field: str, owner_field: str) -> str:
    return (
        f"id_field: {id_field}\n"
        f"fields:\n  {owner_field}: {{from: owner_id, map: {{csm-ana: '31337'}}}}\n"
    )


@pytest.fixture(params=["hubspot", "salesforce"])
def crm(request: pytest.FixtureRequest) -> Iterator[Crm]:
    if request.param == "hubspot":
        with FakeHubSpot() as fake:
            yield Crm(
                "hubspot",
                fake,
                {"HUBSPOT_ACCESS_TOKEN": fake.token, "HUBSPOT_API_URL": fake.url},
                _mapping("cs_task_id", "hubspot_owner_id"),
                "hs_task_status",
                "NOT_STARTED",
                "COMPLETED",
                "hubspot_owner_id",
            )
    else:
        with FakeSalesforce() as fake:
            yield Crm(
                "salesforce",
                fake,
                {
                    "SALESFORCE_ACCESS_TOKEN": fake.token,
                    "SALESFORCE_INSTANCE_URL": fake.url,
                    "SALESFORCE_API_VERSION": "v60.0",
                },
                _mapping("CS_Task_Id__c", "OwnerId"),
                "Status",
                "Not Started",
                "Completed",
                "OwnerId",
            )


def test_crm_record_created_updated_completed_and_closed_in_crm_comes_back(
    ns: Namespace, crm: Crm, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(crm.mapping)
    crm.fake.rate_limit = 3
    crm.fake.fail_ids["c-bad"] = 400
    crm.fake.fail_ids["c-down"] = 503
    produce(
        ns,
        "playbook-tasks",
        lifecycle("c-life", "acc-c-life", "csm-ana")
        + [task("c-open", "opened", "acc-c-open", "csm-ana")],
    )
    env = {**crm.env, "CS_CRM_POLL_SECONDS": "0.3"}
    proc = DeliveryProcess(ns, ["sync", crm.name, "--mapping", str(mapping)], env).start()
    try:
        # Created, updated, completed: in order, after a burst of 429s lost nothing.
        wait_until(lambda: len(crm.history("c-life")) == 3, 40, proc, "c-life synced")
        wait_until(lambda: crm.history("c-open"), 10, proc, "c-open synced")
        assert crm.fake.answered[:3] == [429, 429, 429]
        opened, updated, resolved = crm.history("c-life")
        assert crm.created(opened) and not crm.created(updated) and not crm.created(resolved)
        assert opened[crm.status_field] == crm.open_status
        assert crm.status_field not in updated  # an update leaves the CRM's status alone
        assert resolved[crm.status_field] == crm.closed_status
        assert opened[crm.owner_field] == "31337"
        record = crm.fake.record("c-life")
        assert "Usage dropped — acc-c-life" in str(record)

        # Closed in the CRM: comes back as task-feedback; our own completion does not.
        crm.fake.complete_in_crm("c-open")
        feedback = wait_until(
            lambda: read_topic(ns, "task-feedback", idle_ms=400), 20, proc, "the feedback"
        )
        (event,) = feedback
        assert event["task_id"] == "c-open" and event["action"] == "done"
        assert event["source"] == f"crm:{crm.name}"
        assert event["event_id"] == f"crm:{crm.name}:c-open:done"
        assert event["account_id"] == "acc-c-open" and event["playbook"] == "usage_drop"
        assert event["occurred_at"].endswith("Z")

        # A 4xx dead-letters at once (only that task: c-good shares its batch); a 5xx that
        # keeps coming dead-letters after the retries.
        produce(
            ns,
            "playbook-tasks",
            [
                task("c-bad", "opened", "acc-c-bad", "csm-ana"),
                task("c-good", "opened", "acc-c-good", "csm-ana"),
            ],
        )
        wait_until(lambda: crm.history("c-good"), 15, proc, "c-good synced")
        produce(ns, "playbook-tasks", [task("c-down", "opened", "acc-c-down", "csm-ana")])
        letters = wait_until(
            lambda: (
                (found := read_topic(ns, "notify-dead-letters", idle_ms=400))
                and len(found) == 2
                and found
            ),
            20,
            proc,
            "two dead letters",
        )
        by_task = {letter["task_id"]: letter for letter in letters}
        assert "HTTP 400" in by_task["c-bad"]["reason"] and by_task["c-bad"]["attempts"] == 1
        assert "HTTP 503" in by_task["c-down"]["reason"] and by_task["c-down"]["attempts"] == 3
        assert by_task["c-down"]["sink"] == f"crm:{crm.name}"
        wait_until(
            lambda: committed_all(ns, f"{ns.app_id}-sync-{crm.name}"), 15, proc, "the commit"
        )
        assert len(read_topic(ns, "task-feedback", idle_ms=300)) == 1
        assert crm.fake.token not in proc.log()
    finally:
        code = proc.stop()
    assert code == 0


def test_hubspot_multi_status_dead_letters_only_the_rejected_task(
    ns: Namespace, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("id_field: cs_task_id\n")
    with FakeHubSpot() as fake:
        fake.reject_ids.add("h-207")
        produce(
            ns,
            "playbook-tasks",
            [
                task("h-207", "opened", "acc-h-207", None),
                task("h-ok", "opened", "acc-h-ok", None),
            ],
        )
        env = {"HUBSPOT_ACCESS_TOKEN": fake.token, "HUBSPOT_API_URL": fake.url}
        proc = DeliveryProcess(ns, ["sync", "hubspot", "--mapping", str(mapping)], env).start()
        try:
            (letter,) = wait_until(
                lambda: read_topic(ns, "notify-dead-letters", idle_ms=400), 40, proc, "a letter"
            )
            assert letter["task_id"] == "h-207"
            assert "Property values were not valid" in letter["reason"]
            wait_until(lambda: fake.record("h-ok"), 10, proc, "h-ok synced")
            assert fake.record("h-207") is None
        finally:
            proc.stop()
