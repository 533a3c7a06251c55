"""Parts several pages share: the open-task table with its actions, and the view context."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workers.board.auth import User
from workers.board.feedback import DISMISS_REASONS
from workers.board.html import (
    account_link,
    csrf_field,
    e,
    priority_chip,
    relative,
    span,
    url_part,
    when,
    when_short,
)
from workers.board.keys import parse_time
from workers.board.store import Task


@dataclass(frozen=True)
class View:
    """Who is looking, and at what moment (the board's clock)."""

    user: User
    csrf: str
    now: datetime
    path: str
    csm: str | None = None  # a lead's filter


def _action_form(view: View, task_id: str, action: str, label: str, extra: str = "") -> str:
    return (
        f'<form method="post" action="/tasks/{e(url_part(task_id))}/feedback" class="inline">'
        f'{csrf_field(view.csrf)}<input type="hidden" name="action" value="{action}">'
        f'<input type="hidden" name="next" value="{e(view.path)}">{extra}'
        f'<button class="btn btn-{action}" type="submit">{label}</button></form>'
    )


def task_actions(view: View, task_id: str) -> str:
    reasons = "".join(
        f'<option value="{key}">{e(label)}</option>' for key, label in DISMISS_REASONS.items()
    )
    snooze = (
        '<label>for <select name="snooze_for"><option value="4h">4 hours</option>'
        '<option value="1d" selected>1 day</option><option value="3d">3 days</option>'
        '<option value="7d">1 week</option></select></label>'
        '<label>or until <input type="datetime-local" name="until" title="UTC"> UTC</label>'
    )
    dismiss = (
        f'<label>why <select name="reason" required><option value="">…</option>{reasons}'
        '</select></label><input name="note" maxlength="2000" placeholder="note (optional)">'
    )
    return (
        '<div class="actions">'
        + _action_form(view, task_id, "acknowledged", "Acknowledge")
        + _action_form(view, task_id, "done", "Done")
        + '<details class="more"><summary>Snooze / dismiss</summary>'
        + f'<div class="more-forms">{_action_form(view, task_id, "snoozed", "Snooze", snooze)}'
        + _action_form(view, task_id, "dismissed", "Dismiss", dismiss)
        + "</div></details></div>"
    )


def task_status(task: Task, now: datetime) -> str:
    latest = task.latest_feedback
    if latest is None:
        return '<span class="muted">new</span>'
    by = e(latest.get("by") or "someone")
    via = latest.get("source")
    via_text = f" via {e(via)}" if via and via != "board" else ""
    action = latest.get("action")
    if action == "snoozed":
        until = parse_time(latest.get("until"))
        state = "snoozed" if until and until > now else "snooze ended"
        until_text = e(when(until))
        return f'<span class="status snoozed">{state} until {until_text}</span> by {by}{via_text}'
    if action == "acknowledged":
        return f'<span class="status ack">acknowledged</span> by {by}{via_text}'
    return f'<span class="status">{e(action)}</span> by {by}{via_text} (resolving…)'


def task_table(view: View, tasks: list[Task], show_account: bool = True, empty: str = "") -> str:
    if not tasks:
        return f'<p class="empty">{e(empty or "No open tasks.")}</p>'
    rows = []
    for task in tasks:
        overdue = task.overdue(view.now)
        late = e(span(task.due, view.now)) if task.due else ""
        due_note = (
            f'<div class="overdue-note">overdue by {late}</div>'
            if overdue
            else f'<div class="muted small">{e(relative(task.due, view.now))}</div>'
        )
        steps = task["steps"] or []
        steps_html = (
            f'<details class="steps"><summary>{len(steps)} steps</summary><ol>'
            + "".join(f"<li>{e(step)}</li>" for step in steps)
            + "</ol></details>"
            if steps
            else ""
        )
        account = account_link(task["account_id"]) + " · " if show_account else ""
        owner = (
            f' <span class="muted small">owner {e(task["owner_id"] or "unassigned")}</span>'
            if view.user.is_lead
            else ""
        )
        rows.append(
            f'<tr class="task{" overdue" if overdue else ""}" data-task-id="{e(task["task_id"])}"'
            f' data-playbook="{e(task["playbook"])}" data-account="{e(task["account_id"])}">'
            f"<td>{priority_chip(task['priority'] or '')}</td>"
            f'<td><div class="task-title">{account}<b>{e(task["title"])}</b>'
            f' <span class="muted small">{e(task["playbook"])}</span>{owner}</div>'
            f'<div class="reason">{e(task["reason"])}</div>{steps_html}</td>'
            f'<td class="due" title="{e(when(task.due))}">{e(when_short(task.due))} UTC{due_note}'
            "</td>"
            f"<td>{task_status(task, view.now)}</td>"
            f"<td>{task_actions(view, task['task_id'])}</td></tr>"
        )
    return (
        '<table class="tasks"><thead><tr><th>Priority</th><th>Task</th><th>Due</th>'
        "<th>Status</th><th>Actions</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )
