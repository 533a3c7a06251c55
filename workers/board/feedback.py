"""What a person did with a task on the board, published to `task-feedback` (CONTRACT.md):
a TaskFeedback with a unique `event_id`, `source: board`, `by` = the signed-in user, keyed by
the account. The worker applies it (done / dismissed resolve the task; snoozed holds its
updates until `until`; acknowledged is recorded)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer

from events.models import TaskFeedback

ACTIONS = ("acknowledged", "snoozed", "done", "dismissed")
DISMISS_REASONS = {
    "not_useful": "not useful",
    "already_known": "already known",
    "wrong_owner": "wrong owner",
    "other": "other",
}
SNOOZE_CHOICES = {"4h": timedelta(hours=4), "1d": timedelta(days=1), "3d": timedelta(days=3),
                  "7d": timedelta(days=7)}
MAX_NOTE = 2000


class FeedbackError(ValueError):
    """What was wrong with the form, in words for the person who sent it."""


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def build_feedback(
    task: dict[str, Any],
    form: dict[str, str],
    by: str,
    occurred_at: datetime,
) -> dict[str, Any]:
    """The TaskFeedback for `form` (action, snooze_for | until, reason, note) on `task`,
    validated by the contract model."""
    action = form.get("action", "")
    if action not in ACTIONS:
        raise FeedbackError(f"unknown action {action!r}")
    event: dict[str, Any] = {
        "event_id": f"board:{uuid.uuid4()}",
        "account_id": task["account_id"],
        "occurred_at": rfc3339(occurred_at),
        "task_id": task["task_id"],
        "playbook": task["playbook"],
        "action": action,
        "by": by,
        "source": "board",
    }
    if action == "snoozed":
        event["until"] = rfc3339(_until(form, occurred_at))
    if action == "dismissed":
        reason = form.get("reason", "")
        if reason not in DISMISS_REASONS:
            raise FeedbackError("choose why you dismiss the task")
        event["reason"] = reason
    note = (form.get("note") or "").strip()
    if note:
        event["note"] = note[:MAX_NOTE]
    try:
        TaskFeedback.model_validate(event)
    except ValueError as exc:
        raise FeedbackError(f"not a valid task-feedback: {exc}") from exc
    return event


def _until(form: dict[str, str], now: datetime) -> datetime:
    text = (form.get("until") or "").strip()
    if text:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise FeedbackError("the snooze time is not a date and time") from None
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        if moment <= now:
            raise FeedbackError("the snooze must end in the future")
        return moment
    choice = SNOOZE_CHOICES.get(form.get("snooze_for", ""))
    if choice is None:
        raise FeedbackError("choose how long to snooze")
    return now + choice


class FeedbackPublisher:
    def __init__(self, producer: AIOKafkaProducer, topic: str, log: Any) -> None:
        self.producer = producer
        self.topic = topic
        self.log = log

    async def publish(self, event: dict[str, Any]) -> None:
        value = json.dumps(event, separators=(",", ":")).encode("utf-8")
        await self.producer.send_and_wait(
            self.topic, value, key=event["account_id"].encode("utf-8")
        )
        self.log.info(
            "feedback_published",
            task_id=event["task_id"],
            account_id=event["account_id"],
            action=event["action"],
            by=event["by"],
            event_id=event["event_id"],
        )
