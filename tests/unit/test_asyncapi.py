"""The AsyncAPI 3.0 document (events/asyncapi.yaml): valid, complete and in sync with the
models; `cs-signals contract` prints it."""

from __future__ import annotations

import copy
import io
import json
from contextlib import redirect_stdout
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from events.asyncapi import COMMITTED, build_document, render

jsonschema = pytest.importorskip("jsonschema")

# CONTRACT.md's topic table.
CONTRACT_TOPICS = {
    "usage-events": ("UsageEvent", "account_id"),
    "ticket-events": ("TicketEvent", "account_id"),
    "nps-events": ("NpsEvent", "account_id"),
    "account-events": ("AccountEvent", "account_id"),
    "playbook-tasks": ("PlaybookTask", "account_id"),
    "health-scores": ("HealthScore", "account_id"),
    "dead-letters": ("DeadLetter", "original message's key"),
    "ops-metrics": ("OpsMetrics", "worker id"),
    "task-feedback": ("TaskFeedback", "account_id"),
    "activity-events": ("ActivityEvent", "account_id"),
    "milestone-events": ("MilestoneEvent", "account_id"),
    "notify-dead-letters": ("NotifyDeadLetter", "task_id"),
}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return yaml.safe_load(COMMITTED.read_text(encoding="utf-8"))


def test_committed_document_is_in_sync_with_the_models() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render(), (
        "events/asyncapi.yaml is out of date: cs-signals contract --output events/asyncapi.yaml"
    )


def test_contract_command_prints_it() -> None:
    from workers.cli.parser import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["contract"]) == 0
    assert out.getvalue() == render()
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["contract", "--format", "json"]) == 0
    assert json.loads(out.getvalue()) == build_document()


# ---- AsyncAPI 3.0 structure ---------------------------------------------------------------


def test_validates_with_the_asyncapi3_object_model(doc: dict[str, Any]) -> None:
    """asyncapi3 (PyPI): pydantic models of the whole 3.0 specification, bindings included;
    only `x-` extensions may be added anywhere."""
    asyncapi3 = pytest.importorskip("asyncapi3")
    asyncapi3.AsyncAPI3.model_validate(doc)
    broken = copy.deepcopy(doc)
    broken["operations"]["receiveUsageEvents"]["action"] = "publish"  # a 2.x verb
    with pytest.raises(ValueError):
        asyncapi3.AsyncAPI3.model_validate(broken)
    broken = copy.deepcopy(doc)
    broken["channels"]["usageEvents"]["topic"] = "usage-events"  # not a channel field
    with pytest.raises(ValueError):
        asyncapi3.AsyncAPI3.model_validate(broken)


def test_required_fields(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    for server in doc["servers"].values():
        assert server["host"] and server["protocol"] in ("kafka", "kafka-secure")
    for channel in doc["channels"].values():
        assert channel["address"] and channel["messages"]
    for name, operation in doc["operations"].items():
        assert operation["action"] in ("send", "receive"), name
        assert set(operation["channel"]) == {"$ref"}
        channel_ref = operation["channel"]["$ref"]
        # 3.0: an operation's messages must be messages of its channel.
        for message in operation["messages"]:
            assert message["$ref"].startswith(channel_ref + "/messages/"), name
    for scheme in doc["components"]["securitySchemes"].values():
        assert scheme["type"] in ("plain", "scramSha256", "scramSha512", "X509")


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in _refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in _refs(value)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references: {ref}"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolved $ref {ref}"
        node = node[part]
    return node


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert len(refs) > 40
    for ref in refs:
        _resolve(doc, ref)


def test_a_channel_per_contract_topic_with_its_key_and_message(doc: dict[str, Any]) -> None:
    from events.models import INBOUND_TOPICS

    # Topics added to CONTRACT.md whose models are still being written (issue 10).
    not_yet = {"activity-events", "milestone-events"} - set(INBOUND_TOPICS)
    by_address = {c["address"]: c for c in doc["channels"].values()}
    assert set(by_address) == set(CONTRACT_TOPICS) - not_yet
    for topic, (message_name, key) in CONTRACT_TOPICS.items():
        if topic in not_yet:
            continue
        channel = by_address[topic]
        assert channel["bindings"]["kafka"]["topic"] == topic
        (message_ref,) = channel["messages"].values()
        message = _resolve(doc, message_ref["$ref"])
        assert message["name"] == message_name
        assert message["contentType"] == "application/json"
        assert key in message["bindings"]["kafka"]["key"]["description"]
        assert _resolve(doc, message["payload"]["$ref"])["type"] == "object"
    actions = {
        (op["action"], _resolve(doc, op["channel"]["$ref"])["address"])
        for op in doc["operations"].values()
    }
    assert ("receive", "usage-events") in actions and ("send", "playbook-tasks") in actions
    assert ("receive", "task-feedback") in actions and ("send", "task-feedback") in actions


# ---- payload schemas ----------------------------------------------------------------------


def test_payload_schemas_are_valid_json_schema(doc: dict[str, Any]) -> None:
    """Draft 2020-12 (what pydantic writes) and draft-07 (AsyncAPI's default schema format is a
    superset of it): every schema passes both meta-schemas."""
    for name, schema in doc["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft7Validator.check_schema(schema)
        assert "$defs" not in schema, name  # hoisted into components/schemas


def _validator(doc: dict[str, Any], name: str) -> Any:
    root = {"$ref": f"#/components/schemas/{name}", "components": doc["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def test_schemas_accept_what_the_code_writes_and_reject_what_it_refuses(
    doc: dict[str, Any],
) -> None:
    from events.models import DeadLetter, NpsEvent
    from tests.fakes.tasks import task

    playbook_task = task("t-1", "opened", "acme", "csm-1")
    _validator(doc, "PlaybookTask").validate(playbook_task)
    now = datetime(2026, 9, 1, tzinfo=UTC)
    letter = DeadLetter(
        source_topic="nps-events",
        partition=0,
        offset=3,
        error="score: must be ≤ 10",
        payload='{"score": 11}',
        payload_size=13,
        received_at=now,
    )
    _validator(doc, "DeadLetter").validate(json.loads(letter.to_json_bytes()))
    nps = {"event_id": "n-1", "account_id": "acme", "occurred_at": "2026-09-01T10:00:00Z"}
    NpsEvent.model_validate({**nps, "score": 4})
    _validator(doc, "NpsEvent").validate({**nps, "score": 4, "extra": "ignored"})
    errors = list(_validator(doc, "NpsEvent").iter_errors({**nps, "score": 11}))
    assert errors and "11 is greater than the maximum of 10" in errors[0].message

    from workers.delivery.messages import DeadLetter as SinkDeadLetter

    undelivered = SinkDeadLetter(
        sink="webhook",
        reason="HTTP 400",
        topic="playbook-tasks",
        partition=0,
        offset=1,
        value=b"{}",
        task=playbook_task,
    )
    _validator(doc, "NotifyDeadLetter").validate(json.loads(undelivered.to_json()))
