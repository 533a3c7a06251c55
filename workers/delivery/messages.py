"""A task record read from `playbook-tasks`, and the dead letter a sink writes for one it could
not deliver (topic `notify-dead-letters`, key task_id)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

ACTIONS = ("opened", "updated", "resolved")
_REQUIRED = ("task_id", "action", "account_id")


@dataclass(frozen=True)
class TaskMessage:
    topic: str
    partition: int
    offset: int
    value: bytes
    task: dict[str, Any]

    @property
    def task_id(self) -> str:
        return str(self.task["task_id"])

    @property
    def action(self) -> str:
        return str(self.task["action"])

    @property
    def label(self) -> str:
        return f"{self.task_id}:{self.action}"


@dataclass(frozen=True)
class DeadLetter:
    """Why a task record was not delivered. `task` is the decoded task when it was one."""

    sink: str
    reason: str
    topic: str
    partition: int | None
    offset: int | None
    value: bytes
    task: dict[str, Any] | None = None
    attempts: int = 1
    destination: str | None = None

    @property
    def key(self) -> bytes | None:
        task_id = (self.task or {}).get("task_id")
        return str(task_id).encode() if task_id else None

    def to_json(self, now: datetime | None = None) -> bytes:
        task = self.task or {}
        letter: dict[str, Any] = {
            "schema_version": 1,
            "task_id": task.get("task_id"),
            "action": task.get("action"),
            "account_id": task.get("account_id"),
            "sink": self.sink,
            "destination": self.destination,
            "reason": self.reason,
            "attempts": self.attempts,
            "source_topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "failed_at": (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        }
        if self.task is not None:
            letter["task"] = self.task
        else:
            letter["payload"] = self.value.decode("utf-8", "replace")
        return json.dumps(letter, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def dead_letter_for(
    message: TaskMessage,
    sink: str,
    reason: str,
    attempts: int = 1,
    destination: str | None = None,
) -> DeadLetter:
    return DeadLetter(
        sink=sink,
        reason=reason,
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        value=message.value,
        task=message.task,
        attempts=attempts,
        destination=destination,
    )


def decode(
    sink: str, topic: str, partition: int, offset: int, value: bytes | None
) -> TaskMessage | DeadLetter:
    """A PlaybookTask record, or the dead letter saying why it is not one."""
    raw = value or b""

    def bad(reason: str, task: dict[str, Any] | None = None) -> DeadLetter:
        return DeadLetter(sink, reason, topic, partition, offset, raw, task, attempts=0)

    try:
        task = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return bad(f"not a PlaybookTask: not JSON ({exc})")
    if not isinstance(task, dict):
        return bad("not a PlaybookTask: not a JSON object")
    missing = [name for name in _REQUIRED if not task.get(name)]
    if missing:
        return bad(f"not a PlaybookTask: missing {', '.join(missing)}", task)
    if task["action"] not in ACTIONS:
        return bad(f"not a PlaybookTask: action {task['action']!r} is not one of {ACTIONS}", task)
    return TaskMessage(topic, partition, offset, raw, task)
