"""A task as a Slack Block Kit message (pure): title, account (linked), priority, due date,
the reason with its numbers, the steps, and the status. The same layout serves `opened`,
`updated` (what changed is shown) and `resolved` (marked done), since one message per task is
edited in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

_MARK = {
    "critical": ":red_circle:",
    "high": ":large_orange_circle:",
    "medium": ":large_yellow_circle:",
    "low": ":white_circle:",
}
_HEADER_MAX = 150
_TEXT_MAX = 3000
_FIELD_MAX = 2000


def escape(text: str) -> str:
    """Slack mrkdwn control characters, as Slack asks (&, <, >)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def account_url(template: str | None, task: dict[str, Any]) -> str | None:
    if not template:
        return None
    values = {
        name: quote(str(task.get(name) or ""), safe="")
        for name in ("account_id", "task_id", "playbook")
    }
    return template.format(**values)


def _when(value: Any) -> str:
    """A timestamp as Slack's localised date (each reader sees their own zone)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return escape(str(value))
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def _priority(task: dict[str, Any]) -> str:
    priority = str(task.get("priority") or "?")
    text = f"{_MARK.get(priority, '')} {priority.capitalize()}".strip()
    previous = task.get("previous_priority")
    if previous and previous != priority:
        text += f" (was {previous})"
    return text


def fallback_text(task: dict[str, Any]) -> str:
    """The notification text (and what screen readers and old clients show)."""
    prefix = "Resolved: " if task.get("action") == "resolved" else ""
    return _cut(
        f"{prefix}[{task.get('priority')}] {task.get('title')} — {task.get('account_id')}: "
        f"{task.get('reason', '')}",
        _TEXT_MAX,
    )


def render(
    task: dict[str, Any], url_template: str | None = None, mention: str | None = None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for chat.postMessage / chat.update."""
    action = task.get("action")
    title = str(task.get("title") or task.get("playbook") or "Task")
    if action == "resolved":
        header = f":white_check_mark: Resolved: {title}"
    else:
        header = f"{_MARK.get(str(task.get('priority')), '')} {title}".strip()
    url = account_url(url_template, task)
    account = escape(str(task.get("account_id")))
    owner = f"<@{mention}>" if mention else escape(str(task.get("owner_id") or "unassigned"))
    fields = [
        ("Account", f"<{url}|{account}>" if url else account),
        ("Priority", _priority(task)),
        ("Due", _when(task.get("due_at"))),
        ("Owner", owner),
        ("Playbook", escape(str(task.get("playbook") or "—"))),
    ]
    health = task.get("health") or {}
    if health.get("score") is not None:
        fields.append(("Health", f"{float(health['score']):.0f} ({health.get('band', '?')})"))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(header, _HEADER_MAX)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{name}*\n{value}", _FIELD_MAX)}
                for name, value in fields
            ],
        },
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(f"*Why*\n{escape(str(task.get('reason') or '—'))}", _TEXT_MAX),
            },
        },
    ]
    steps = [str(step) for step in task.get("steps") or []]
    if steps:
        listed = "\n".join(f"{n}. {escape(step)}" for n, step in enumerate(steps, start=1))
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _cut(f"*Steps*\n{listed}", _TEXT_MAX)},
            }
        )
    status = {"opened": "Open", "updated": "Updated", "resolved": "Resolved"}.get(str(action), "?")
    changed = task.get("occurred_at") or task.get("created_at")
    context = f"{status} · {_when(changed)} · task `{escape(str(task.get('task_id')))}`"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if url:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open account"},
                        "url": url,
                        "action_id": "open_account",
                    }
                ],
            }
        )
    return fallback_text(task), blocks
