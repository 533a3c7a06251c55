"""The contract (CONTRACT.md), machine-readable: an AsyncAPI 3.0 document generated from the
pydantic models of events/models.py.

One channel per topic (address = the topic name without CS_TOPIC_PREFIX), its key in the Kafka
message binding, the payload as JSON Schema under components/schemas (pydantic's schema of the
model: validation mode for what producers send us, serialization mode for what we publish),
one operation per direction. `ops-metrics` and `notify-dead-letters` have no pydantic model;
their schemas are written out here.

The committed copy is events/asyncapi.yaml; `cs-signals contract` prints the document built
from the code, and tests/unit/test_asyncapi.py fails when the two differ. After changing a
model: `cs-signals contract --output events/asyncapi.yaml`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from events.models import (
    INBOUND_TOPICS,
    SCHEMA_VERSION,
    DeadLetter,
    HealthScore,
    PlaybookTask,
)

__all__ = ["COMMITTED", "TOPICS", "build_document", "render"]

ASYNCAPI_VERSION = "3.0.0"
# The wire contract's version: bump the minor for additions, the major for breaking changes.
CONTRACT_VERSION = "1.2.0"  # 1.2: AccountEvent.status, ActivityEvent.scheduled_for
COMMITTED = Path(__file__).resolve().parent / "asyncapi.yaml"
_KAFKA_BINDING = "0.5.0"
_REF = "#/components/schemas/{model}"

# Topic -> (direction, key, description). Order: CONTRACT.md's table.
_OUTBOUND: dict[str, tuple[str, str]] = {
    "playbook-tasks": ("account_id", "Playbook tasks: opened, updated (re-prioritised), resolved."),
    "health-scores": ("account_id", "Each account's health score when it changes."),
    "dead-letters": (
        "the original message's key (absent when it had none)",
        "Inbound messages that could not be used, with why, for the producer to fix.",
    ),
    "ops-metrics": ("worker id", "Each worker's counters, every CS_METRICS_INTERVAL_SECONDS."),
    "notify-dead-letters": (
        "task_id",
        "Tasks a notifier or CRM sync could not deliver, with why (never dropped silently).",
    ),
}
_INBOUND_DESCRIPTIONS = {
    "usage-events": "Product usage: one event per user action worth counting.",
    "ticket-events": "Support tickets: opened, updated, escalated, resolved, closed.",
    "nps-events": "NPS survey responses (0-10).",
    "account-events": "Account facts (CRM): absent fields keep their previous value.",
    "task-feedback": "What people did with a task: acknowledged, snoozed, done, dismissed.",
    "activity-events": "CSM touchpoints from the CRM (emails, calls, meetings, QBRs).",
    "milestone-events": "Success-plan milestones; the latest event per milestone wins.",
}
# Inbound topics that cs-signals itself also publishes to (the board and the CRM syncs).
_ALSO_SENT = {"task-feedback": "The board and the CRM syncs (a task closed in the CRM: done)."}

_OPS_METRICS_SCHEMA: dict[str, Any] = {
    "title": "OpsMetrics",
    "description": "A worker's metrics snapshot (README, ops-metrics). Counters are cumulative "
    "since the worker started; more fields may be added.",
    "type": "object",
    "required": ["schema_version", "worker_id", "app_id", "at", "interval_seconds"],
    "properties": {
        "schema_version": {"type": "integer", "const": 1},
        "worker_id": {"type": "string"},
        "app_id": {"type": "string"},
        "at": {"type": "string", "format": "date-time"},
        "interval_seconds": {"type": "number"},
        "events_in": {"type": "object", "additionalProperties": {"type": "integer"}},
        "events_in_total": {"type": "integer"},
        "dead_letters": {"type": "object", "additionalProperties": {"type": "integer"}},
        "dead_letters_total": {"type": "integer"},
        "tasks_out": {
            "type": "object",
            "additionalProperties": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        "tasks_out_total": {"type": "integer"},
        "consumer_lag": {"type": "object", "additionalProperties": {"type": "integer"}},
        "consumer_lag_total": {"type": "integer"},
        "assigned_partitions": {"type": "array", "items": {"type": "integer"}},
    },
    "additionalProperties": True,
}

_NOTIFY_DEAD_LETTER_SCHEMA: dict[str, Any] = {
    "title": "NotifyDeadLetter",
    "description": "A task a sink could not deliver (workers/delivery/messages.py): the task "
    "itself when it could be decoded, else the raw payload.",
    "type": "object",
    "required": ["schema_version", "sink", "reason", "attempts", "source_topic", "failed_at"],
    "properties": {
        "schema_version": {"type": "integer", "const": 1},
        "task_id": {"type": ["string", "null"]},
        "action": {"type": ["string", "null"]},
        "account_id": {"type": ["string", "null"]},
        "sink": {"type": "string", "description": "slack, webhook, hubspot, salesforce"},
        "destination": {"type": ["string", "null"]},
        "reason": {"type": "string"},
        "attempts": {"type": "integer", "minimum": 1},
        "source_topic": {"type": "string"},
        "partition": {"type": ["integer", "null"]},
        "offset": {"type": ["integer", "null"]},
        "failed_at": {"type": "string", "format": "date-time"},
        "task": {"$ref": _REF.format(model="PlaybookTask")},
        "payload": {"type": "string"},
    },
    "additionalProperties": False,
}

TOPICS: tuple[str, ...] = (*INBOUND_TOPICS, *_OUTBOUND)


def _camel(topic: str) -> str:
    head, *rest = topic.split("-")
    return head + "".join(part.capitalize() for part in rest)


def _model_schemas() -> tuple[dict[str, str], dict[str, Any]]:
    """Message name -> schema name, and every schema (nested models included)."""
    pairs: list[tuple[type[BaseModel], Any]] = [(m, "validation") for m in INBOUND_TOPICS.values()]
    pairs += [(m, "serialization") for m in (PlaybookTask, HealthScore, DeadLetter)]
    keys, top = models_json_schema(pairs, ref_template=_REF, by_alias=True)
    names = {model.__name__: ref["$ref"].rsplit("/", 1)[1] for (model, _), ref in keys.items()}
    return names, dict(top.get("$defs", {}))


def _message(name: str, schema: str, key: str, summary: str) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "summary": summary,
        "contentType": "application/json",
        "payload": {"$ref": _REF.format(model=schema)},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "description": key},
                "bindingVersion": _KAFKA_BINDING,
            }
        },
    }


def build_document() -> dict[str, Any]:
    names, schemas = _model_schemas()
    schemas["OpsMetrics"] = _OPS_METRICS_SCHEMA
    schemas["NotifyDeadLetter"] = _NOTIFY_DEAD_LETTER_SCHEMA
    names.update(OpsMetrics="OpsMetrics", NotifyDeadLetter="NotifyDeadLetter")
    outbound_models = {
        "playbook-tasks": "PlaybookTask",
        "health-scores": "HealthScore",
        "dead-letters": "DeadLetter",
        "ops-metrics": "OpsMetrics",
        "notify-dead-letters": "NotifyDeadLetter",
    }

    messages: dict[str, Any] = {}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}

    def add(topic: str, message: str, key: str, description: str, actions: list[str]) -> None:
        channel_id = _camel(topic)
        messages[message] = _message(message, names[message], key, description)
        channels[channel_id] = {
            "address": topic,
            "title": topic,
            "description": f"{description} Topic `{topic}` (prefixed by CS_TOPIC_PREFIX); "
            f"key: {key}.",
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            "bindings": {"kafka": {"topic": topic, "bindingVersion": _KAFKA_BINDING}},
        }
        for action in actions:
            verb = "receive" if action == "receive" else "send"
            operation: dict[str, Any] = {
                "action": verb,
                "channel": {"$ref": f"#/channels/{channel_id}"},
                "summary": (
                    f"cs-signals workers consume {topic} (consumer group CS_APP_ID)."
                    if verb == "receive"
                    else _ALSO_SENT.get(topic, f"cs-signals publishes {topic}.")
                ),
                "messages": [{"$ref": f"#/channels/{channel_id}/messages/{message}"}],
            }
            if verb == "receive":
                operation["bindings"] = {
                    "kafka": {
                        "groupId": {"type": "string", "description": "CS_APP_ID"},
                        "bindingVersion": _KAFKA_BINDING,
                    }
                }
            operations[f"{verb}{channel_id[0].upper()}{channel_id[1:]}"] = operation

    for topic, model in INBOUND_TOPICS.items():
        actions = ["receive"] + (["send"] if topic in _ALSO_SENT else [])
        description = _INBOUND_DESCRIPTIONS.get(topic, f"Inbound {model.__name__} events.")
        add(topic, model.__name__, "account_id", description, actions)
    for topic, (key, description) in _OUTBOUND.items():
        add(topic, outbound_models[topic], key, description, ["send"])

    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "cs-signals",
            "version": CONTRACT_VERSION,
            "description": (
                "Customer-success signals in, health scores and playbook tasks out. Every "
                "topic name gets CS_TOPIC_PREFIX in front of it. Values are UTF-8 JSON objects; "
                "timestamps are RFC 3339 with a zone. Inbound events: unknown extra fields are "
                "accepted and ignored; producers may send without a key (the workers key by "
                f"account_id). Outbound messages carry schema_version {SCHEMA_VERSION}. "
                "Generated from events/models.py by `cs-signals contract`."
            ),
            "license": {"name": "Apache-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "plaintext": {
                "host": "localhost:9092",
                "protocol": "kafka",
                "description": "KAFKA_BOOTSTRAP_SERVERS with KAFKA_SECURITY_PROTOCOL=PLAINTEXT.",
            },
            "secured": {
                "host": "kafka.example.com:9093",
                "protocol": "kafka-secure",
                "description": "KAFKA_SECURITY_PROTOCOL=SASL_SSL (or SSL with a client "
                "certificate); README, Security.",
                "security": [
                    {"$ref": f"#/components/securitySchemes/{name}"}
                    for name in ("scramSha512", "scramSha256", "plain", "mutualTls")
                ],
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
            "securitySchemes": {
                "scramSha512": {"type": "scramSha512", "description": "KAFKA_SASL_MECHANISM"},
                "scramSha256": {"type": "scramSha256", "description": "KAFKA_SASL_MECHANISM"},
                "plain": {"type": "plain", "description": "KAFKA_SASL_MECHANISM=PLAIN"},
                "mutualTls": {
                    "type": "X509",
                    "description": "KAFKA_SSL_CERTFILE / KAFKA_SSL_KEYFILE",
                },
            },
        },
    }


def render(document: dict[str, Any] | None = None, fmt: str = "yaml") -> str:
    document = build_document() if document is None else document
    if fmt == "json":
        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    header = (
        "# Generated from events/models.py by `cs-signals contract`; do not edit by hand.\n"
        "# Regenerate: cs-signals contract --output events/asyncapi.yaml\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
