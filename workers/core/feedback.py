"""Task feedback from people (board, Slack, CRMs): acknowledge, snooze, done, dismiss.

Feedback names a task by id; it applies only to the task's current episode while it is open
(feedback on an older episode, an unknown playbook or a resolved task changes nothing).
`done` and `dismissed` resolve the task, and the playbook's cool-down applies from then, as for
any resolution; `snoozed` holds the task's updates until `until` (lifecycle.step);
`acknowledged` is recorded.
"""

from __future__ import annotations

from typing import Any

from config.rules import Rules
from events.models import PlaybookTask, TaskFeedback

from .lifecycle import TaskContext, close_by_person, task_id
from .plan import plan_for
from .state import AccountState, to_ts

_DISMISS_WORDS = {
    "not_useful": "not useful",
    "already_known": "already known",
    "wrong_owner": "wrong owner",
    "other": "other reason",
}


def apply_feedback(
    state: AccountState, event: TaskFeedback, rules: Rules, now: float
) -> list[PlaybookTask]:
    task = state.tasks.get(event.playbook)
    pb = plan_for(rules).by_id.get(event.playbook)
    if task is None or pb is None or not task.open:
        return []
    if task_id(state.account_id, event.playbook, task.episode) != event.task_id:
        return []
    if event.action == "acknowledged":
        task.acknowledged_at = now
        return []
    if event.action == "snoozed":
        assert event.until is not None  # the model requires it
        task.snoozed_until = to_ts(event.until)
        return []
    who: dict[str, Any] = {"action": event.action, "by": event.by, "source": event.source}
    actor = f"{event.by or 'someone'}" + (f" via {event.source}" if event.source else "")
    if event.action == "done":
        reason = f"Marked done by {actor}."
    else:
        who["reason"] = event.reason
        reason = f"Dismissed by {actor} ({_DISMISS_WORDS.get(event.reason or 'other')})."
    if event.note:
        who["note"] = event.note
    health = state.health
    snapshot = {"score": health["score"], "band": health["band"]} if health else None
    return close_by_person(pb, task, TaskContext(state, now, snapshot), reason, who)
