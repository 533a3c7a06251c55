"""PlaybookTask messages as the stream worker publishes them, for the delivery tests."""

from __future__ import annotations

from typing import Any


def task(
    task_id: str,
    action: str,
    account: str,
    owner: str | None,
    priority: str = "high",
    **extra: Any,
) -> dict[str, Any]:
    base = {
        "schema_version": 1,
        "task_id": task_id,
        "action": action,
        "account_id": account,
        "playbook": "usage_drop",
        "title": "Usage dropped",
        "priority": priority,
        "owner_role": "csm",
        "owner_id": owner,
        "due_at": "2026-09-03T10:00:00Z",
        "created_at": "2026-09-01T10:00:00Z",
        "occurred_at": "2026-09-01T10:00:00Z",
        "reason": "Active users fell from 40 to 22 (-45%) week over week.",
        "evidence": {"active_7d": 22, "active_prev_7d": 40},
        "steps": ["Send a check-in email", "Call if no answer within 48 h"],
        "health": {"score": 61.0, "band": "at_risk"},
        "episode": 1,
        "previous_priority": None,
    }
    base.update(extra)
    return base


def lifecycle(task_id: str, account: str, owner: str | None) -> list[dict[str, Any]]:
    """opened -> updated (priority raised) -> resolved."""
    return [
        task(task_id, "opened", account, owner),
        task(
            task_id,
            "updated",
            account,
            owner,
            priority="critical",
            previous_priority="high",
            occurred_at="2026-09-02T10:00:00Z",
        ),
        task(
            task_id,
            "resolved",
            account,
            owner,
            priority="critical",
            occurred_at="2026-09-05T10:00:00Z",
        ),
    ]
