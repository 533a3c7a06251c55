"""The per-CSM alert budget of `notify slack` (issue 7): pings a CSM can act on, the rest in one
daily digest.

A *ping* is a new Slack message about a task (an edit notifies nobody). Each owner gets at most
`SLACK_DAILY_BUDGET` pings per day of their own time zone (0: no budget). Past it, a new task
is not posted on its own: it goes into the owner's next digest, one message at
`SLACK_DIGEST_AT` (owner's local time) that lists the deferred tasks ranked by ARR × severity,
so the most valuable account at the highest priority is on top. Critical tasks always ping:
a budget is for noise, not for the fire.

A task once put in a digest stays there: its later updates replace its entry in the pending
digest (or go into the next one), a `resolved` removes it from a digest not yet posted. Pure
functions here; the Redis keys and the posting are in slack_sink.py.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from workers.delivery.slack_render import account_url, escape

# Severity weights of the ranking: one critical outweighs eight low-priority tasks of the same ARR.
SEVERITY = {"critical": 8.0, "high": 4.0, "medium": 2.0, "low": 1.0}
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_ITEMS_SHOWN = 40  # Slack allows 50 blocks; the rest are counted in the last line


def parse_digest_at(text: str) -> time:
    match = _HHMM.match(text.strip())
    if not match:
        raise ValueError(f"{text!r}: expected HH:MM, e.g. 16:00")
    return time(int(match.group(1)), int(match.group(2)))


def always_pings(task: dict[str, Any]) -> bool:
    """Critical tasks are never deferred."""
    return task.get("priority") == "critical"


def rank(task: dict[str, Any], arr: float | None) -> float:
    """ARR × severity; an account without a known ARR counts as 1."""
    return SEVERITY.get(str(task.get("priority")), 1.0) * max(arr or 0.0, 1.0)


def local_day(now: datetime, zone: ZoneInfo | None) -> date:
    return now.astimezone(zone).date() if zone is not None else now.date()


def next_digest(now: datetime, at: time, zone: ZoneInfo | None) -> datetime:
    """The first `at` (owner's local time; UTC without a zone) after `now`."""
    local = now.astimezone(zone) if zone is not None else now
    due = datetime.combine(local.date(), at, tzinfo=local.tzinfo)
    if due <= local:
        due = datetime.combine(local.date() + timedelta(days=1), at, tzinfo=local.tzinfo)
    return due.astimezone(now.tzinfo)


def render_digest(
    owner: str | None,
    entries: list[dict[str, Any]],
    budget: int,
    url_template: str | None = None,
    mention: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """One message: the deferred tasks, highest rank first (entries: {"task", "rank", "arr"})."""
    ordered = sorted(entries, key=lambda e: (-float(e["rank"]), str(e["task"].get("task_id"))))
    count = len(ordered)
    who = f"<@{mention}> " if mention else ""
    text = (
        f"Digest: {count} task{'s' if count != 1 else ''} past today's budget of {budget} "
        f"alert{'s' if budget != 1 else ''} for {owner or 'unassigned accounts'}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": text[:150]}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{who}Ranked by ARR × severity; critical tasks were sent at once.",
                }
            ],
        },
    ]
    for entry in ordered[:_ITEMS_SHOWN]:
        task = entry["task"]
        account = escape(str(task.get("account_id")))
        url = account_url(url_template, task)
        name = f"<{url}|{account}>" if url else account
        arr = entry.get("arr")
        money = f", ARR {arr:,.0f}" if arr else ""
        state = " (updated)" if task.get("action") == "updated" else ""
        line = (
            f"*[{escape(str(task.get('priority')))}] {escape(str(task.get('title')))}*{state} — "
            f"{name}{money}\n{escape(str(task.get('reason', '')))[:400]}"
        )
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": line}})
    if count > _ITEMS_SHOWN:
        more = f"…and {count - _ITEMS_SHOWN} more, lower ranked: see the board."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
    return text, blocks
