"""Which CRM fields a task fills, from a mapping file (YAML or JSON) over built-in defaults.

    id_field: cs_task_id          # HubSpot: the unique task property holding task_id;
                                  # Salesforce: the Task external-id field (CS_Task_Id__c)
    status_field: hs_task_status
    status: {opened: NOT_STARTED, resolved: COMPLETED}   # `updated` leaves the status alone
    fields:
      hs_task_subject: "{title} — {account_id}"          # a template over the task
      hs_task_priority:
        from: priority
        map: {low: LOW, medium: MEDIUM, high: HIGH, critical: HIGH}
      hs_timestamp: {from: due_at, format: epoch_ms}    # date | datetime | epoch_ms
      hubspot_owner_id: {from: owner_id, map: {csm-ana: "31337"}}   # unmapped: left out
      hs_task_type: null                                # null removes a default field

Template placeholders: task_id, action, account_id, playbook, title, priority, owner_id,
owner_role, reason, steps (one "- step" per line), due_at, created_at, occurred_at,
health_score, health_band, episode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

PLACEHOLDERS = (
    "task_id",
    "action",
    "account_id",
    "playbook",
    "title",
    "priority",
    "owner_id",
    "owner_role",
    "reason",
    "steps",
    "due_at",
    "created_at",
    "occurred_at",
    "health_score",
    "health_band",
    "episode",
)
FORMATS = ("date", "datetime", "epoch_ms")

HUBSPOT_DEFAULTS: dict[str, Any] = {
    "id_field": "cs_task_id",
    "status_field": "hs_task_status",
    "status": {"opened": "NOT_STARTED", "resolved": "COMPLETED"},
    "fields": {
        "hs_task_subject": "{title} — {account_id}",
        "hs_task_body": "{reason}\n\nSteps:\n{steps}",
        "hs_task_priority": {
            "from": "priority",
            "map": {"low": "LOW", "medium": "MEDIUM", "high": "HIGH", "critical": "HIGH"},
        },
        "hs_timestamp": {"from": "due_at", "format": "epoch_ms"},
        "hs_task_type": "TODO",
    },
}
SALESFORCE_DEFAULTS: dict[str, Any] = {
    "id_field": "CS_Task_Id__c",
    "status_field": "Status",
    "status": {"opened": "Not Started", "resolved": "Completed"},
    "fields": {
        "Subject": {"template": "{title} — {account_id}", "max_length": 255},
        "Description": "{reason}\n\nSteps:\n{steps}",
        "Priority": {
            "from": "priority",
            "map": {"low": "Low", "medium": "Normal", "high": "High", "critical": "High"},
        },
        "ActivityDate": {"from": "due_at", "format": "date"},
    },
}


class CrmMappingError(ValueError):
    pass


def task_context(task: dict[str, Any]) -> dict[str, Any]:
    """The placeholders' values for one task (None becomes empty text in templates)."""
    health = task.get("health") or {}
    context = {name: task.get(name) for name in PLACEHOLDERS}
    context["steps"] = "\n".join(f"- {step}" for step in task.get("steps") or [])
    context["health_score"] = health.get("score")
    context["health_band"] = health.get("band")
    return context


def _as_format(value: Any, fmt: str) -> Any:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if fmt == "date":
        return moment.date().isoformat()
    if fmt == "epoch_ms":
        return str(int(moment.timestamp() * 1000))
    return moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class FieldSpec:
    template: str | None = None
    source: str | None = None
    values: dict[str, Any] | None = None
    default: Any = None
    fmt: str | None = None
    max_length: int | None = None

    def value(self, context: dict[str, Any]) -> Any:
        if self.template is not None:
            result: Any = self.template.format_map(
                {k: ("" if v is None else v) for k, v in context.items()}
            )
        else:
            raw = context.get(self.source or "")
            if self.values is not None:
                result = self.values.get(str(raw), self.default) if raw is not None else None
            elif raw is None:
                result = self.default
            elif self.fmt:
                result = _as_format(raw, self.fmt)
            else:
                result = raw
        if isinstance(result, str) and self.max_length and len(result) > self.max_length:
            result = result[: self.max_length - 1] + "…"
        return result


@dataclass(frozen=True)
class CrmMapping:
    id_field: str
    status_field: str
    status: dict[str, str]
    fields: dict[str, FieldSpec]

    @property
    def closed_value(self) -> str | None:
        return self.status.get("resolved")

    def record(self, task: dict[str, Any]) -> dict[str, Any]:
        """Field -> value for this task action (fields that come out None are left out)."""
        context = task_context(task)
        record = {}
        for name, spec in self.fields.items():
            value = spec.value(context)
            if value is not None:
                record[name] = value
        status = self.status.get(str(task.get("action")))
        if status is not None:
            record[self.status_field] = status
        return record


def load_crm_mapping(path: str | Path | None, defaults: dict[str, Any]) -> CrmMapping:
    data: dict[str, Any] = {}
    where = "mapping"
    if path is not None:
        file = Path(path)
        where = str(file)
        try:
            text = file.read_text(encoding="utf-8")
            loaded = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
        except OSError as exc:
            raise CrmMappingError(f"{file}: cannot read ({exc.strerror or exc})") from exc
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise CrmMappingError(f"{file}: not valid YAML/JSON: {exc}") from exc
        if loaded is not None and not isinstance(loaded, dict):
            raise CrmMappingError(f"{file}: the top level must be a mapping")
        data = loaded or {}
    try:
        return parse_crm_mapping(data, defaults)
    except ValueError as exc:
        raise CrmMappingError(f"{where}: {exc}") from exc


def parse_crm_mapping(data: dict[str, Any], defaults: dict[str, Any]) -> CrmMapping:
    unknown = set(data) - {"id_field", "status_field", "status", "fields"}
    if unknown:
        raise ValueError(
            f"unknown key(s) {sorted(unknown)}; valid: fields, id_field, status, status_field"
        )
    id_field = str(data.get("id_field") or defaults["id_field"])
    status_field = str(data.get("status_field") or defaults["status_field"])
    status = dict(defaults["status"])
    for action, value in (data.get("status") or {}).items():
        if action not in ("opened", "updated", "resolved"):
            raise ValueError(f"status.{action}: actions are opened, updated, resolved")
        if value is None:
            status.pop(action, None)
        else:
            status[action] = str(value)
    if "resolved" not in status:
        raise ValueError("status.resolved is required (the CRM's completed status)")
    merged: dict[str, Any] = dict(defaults["fields"])
    given = data.get("fields") or {}
    if not isinstance(given, dict):
        raise ValueError("'fields' must map CRM field names to templates or {from: ...}")
    merged.update(given)
    fields = {
        str(name): _field(str(name), spec) for name, spec in merged.items() if spec is not None
    }
    for name in (id_field, status_field):
        if name in fields:
            raise ValueError(f"fields.{name}: set by the sync itself, remove it from 'fields'")
    return CrmMapping(id_field, status_field, status, fields)


def _field(name: str, spec: Any) -> FieldSpec:
    where = f"fields.{name}"
    if isinstance(spec, str | int | float | bool):
        spec = {"template": str(spec)}
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: a template string or {{from: FIELD, map/format/default}}")
    extra = set(spec) - {"template", "from", "map", "default", "format", "max_length"}
    if extra:
        raise ValueError(f"{where}: unknown key(s) {sorted(extra)}")
    if ("template" in spec) == ("from" in spec):
        raise ValueError(f"{where}: give exactly one of 'template' or 'from'")
    source = spec.get("from")
    if source is not None and source not in PLACEHOLDERS:
        raise ValueError(f"{where}.from: {source!r} is not one of {', '.join(PLACEHOLDERS)}")
    fmt = spec.get("format")
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"{where}.format: must be one of {', '.join(FORMATS)}")
    values = spec.get("map")
    if values is not None and not isinstance(values, dict):
        raise ValueError(f"{where}.map: must map task values to CRM values")
    max_length = spec.get("max_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
        raise ValueError(f"{where}.max_length: must be an integer ≥ 2")
    field = FieldSpec(
        template=spec.get("template"),
        source=source,
        values={str(k): v for k, v in values.items()} if values is not None else None,
        default=spec.get("default"),
        fmt=fmt,
        max_length=max_length,
    )
    if field.template is not None:
        try:
            field.value({name: "x" for name in PLACEHOLDERS})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"{where}: bad template {field.template!r} ({exc}); placeholders: "
                + ", ".join(PLACEHOLDERS)
            ) from None
    return field
