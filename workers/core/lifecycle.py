"""Task lifecycle: one open task per account and playbook, deterministic ids, updates only on
meaningful change, auto-resolve, cool-down and escalation.

A trigger check says whether the playbook's situation holds now (`Fire`) and, for an open task,
whether it has cleared (`resolve`). This module turns that into opened / updated / resolved
messages and keeps the per-playbook `TaskState`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from config.rules import PRIORITY_RANK, CompiledPlaybook
from events.models import HealthSnapshot, PlaybookTask

from .state import AccountState, TaskState, to_dt

TASK_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://cs-signals/playbook-task")
MAX_KEYS = 50  # occurrences remembered per task; bounds the state of a long-open task


def task_id(account_id: str, playbook: str, episode: int) -> str:
    """Same account, playbook and episode always give the same id (idempotent downstream)."""
    return str(uuid.uuid5(TASK_NAMESPACE, f"{account_id}\x1f{playbook}\x1f{episode}"))


@dataclass
class Fire:
    priority: str
    reason: str
    evidence: dict[str, Any]
    # Identity of a discrete occurrence (ticket id, NPS event id, renewal milestone). A new
    # key while the task is open is a meaningful change and updates it; level-triggered
    # conditions have no key so a repeat while open changes nothing.
    key: str | None = None


@dataclass
class Check:
    fire: Fire | None = None
    resolve: str | None = None
    resolve_evidence: dict[str, Any] = field(default_factory=dict)
    # Escalate another open task (health_at_risk -> critical) instead of opening this one.
    escalate: str | None = None


@dataclass
class TaskContext:
    state: AccountState
    now: float
    health: dict[str, Any] | None  # {"score", "band"} at this evaluation


def _message(
    pb: CompiledPlaybook,
    ctx: TaskContext,
    task: TaskState,
    action: str,
    reason: str,
    evidence: dict[str, Any],
    previous_priority: str | None = None,
    extra_steps: list[str] | None = None,
) -> PlaybookTask:
    rule = pb.rule
    steps = list(rule.steps)
    if extra_steps:
        steps += [s for s in extra_steps if s not in steps]
    assert task.priority is not None and task.opened_at is not None and task.due_at is not None
    health = ctx.health
    return PlaybookTask(
        task_id=task_id(ctx.state.account_id, pb.id, task.episode),
        action=action,  # type: ignore[arg-type]
        account_id=ctx.state.account_id,
        playbook=pb.id,
        title=rule.title or pb.id.replace("_", " ").capitalize(),
        priority=task.priority,  # type: ignore[arg-type]
        owner_role=rule.owner_role,
        owner_id=ctx.state.facts.get("csm_id"),
        due_at=to_dt(task.due_at),
        created_at=to_dt(task.opened_at),
        reason=reason,
        evidence=evidence,
        steps=steps,
        health=HealthSnapshot(score=health["score"], band=health["band"]) if health else None,
        episode=task.episode,
        occurred_at=to_dt(ctx.now),
        previous_priority=previous_priority,  # type: ignore[arg-type]
    )


def _remember(task: TaskState, key: str | None) -> None:
    if key is not None and key not in task.keys:
        task.keys.append(key)
        del task.keys[:-MAX_KEYS]


def step(
    pb: CompiledPlaybook,
    check: Check,
    task: TaskState,
    ctx: TaskContext,
    extra_steps: list[str] | None = None,
) -> list[PlaybookTask]:
    """Apply one evaluation of one playbook to its task state; returns the messages."""
    now = ctx.now
    sla = pb.rule.sla.total_seconds()
    if task.open:
        assert task.priority is not None
        if check.resolve is not None:
            task.open = False
            task.resolved_at = now
            task.ok_since = None
            evidence = {"opened_with": task.evidence, **check.resolve_evidence}
            return [_message(pb, ctx, task, "resolved", check.resolve, evidence, None, extra_steps)]
        fire = check.fire
        if fire is None:
            return []
        if task.snoozed_until is not None and now < task.snoozed_until:
            # Snoozed by a person: hold updates (and so re-notifications) until it ends. What
            # happened meanwhile is not lost: a later change still updates the task.
            return []
        if PRIORITY_RANK[fire.priority] > PRIORITY_RANK[task.priority]:
            previous = task.priority
            task.priority = fire.priority
            task.due_at = min(task.due_at or now + sla, now + sla)
            _remember(task, fire.key)
            return [
                _message(
                    pb, ctx, task, "updated", fire.reason, fire.evidence, previous, extra_steps
                )
            ]
        if fire.key is not None and fire.key not in task.keys:
            _remember(task, fire.key)
            return [
                _message(pb, ctx, task, "updated", fire.reason, fire.evidence, None, extra_steps)
            ]
        return []

    fire = check.fire
    if fire is None:
        return []
    if (
        task.resolved_at is not None
        and task.opened_priority is not None
        and now < task.resolved_at + pb.rule.cooldown.total_seconds()
        and PRIORITY_RANK[fire.priority] <= PRIORITY_RANK[task.opened_priority]
    ):
        return []  # cooling down, and the situation is not worse than when it last opened
    task.episode += 1
    task.open = True
    task.priority = task.opened_priority = fire.priority
    task.opened_at = now
    task.due_at = now + sla
    task.resolved_at = None
    task.evidence = fire.evidence
    task.keys = []
    task.escalated = False
    task.ok_since = None
    task.snoozed_until = None
    task.acknowledged_at = None
    task.closed_by = None
    _remember(task, fire.key)
    return [_message(pb, ctx, task, "opened", fire.reason, fire.evidence)]


def close_by_person(
    pb: CompiledPlaybook, task: TaskState, ctx: TaskContext, reason: str, who: dict[str, Any]
) -> list[PlaybookTask]:
    """A person marked the open task done or dismissed it: resolve it (the cool-down applies
    from now, as for any resolution)."""
    if not task.open:
        return []
    task.open = False
    task.resolved_at = ctx.now
    task.ok_since = None
    task.snoozed_until = None
    task.closed_by = who
    evidence = {"opened_with": task.evidence, "feedback": who}
    return [_message(pb, ctx, task, "resolved", reason, evidence)]


def escalate(
    target_pb: CompiledPlaybook,
    target: TaskState,
    source_pb: CompiledPlaybook,
    fire: Fire,
    ctx: TaskContext,
) -> list[PlaybookTask]:
    """An open at-risk task turns critical: raise it in place, with the critical steps."""
    if not target.open or target.escalated:
        return []
    previous = target.priority
    target.escalated = True
    if PRIORITY_RANK[source_pb.rule.priority] > PRIORITY_RANK[target.priority or "low"]:
        target.priority = source_pb.rule.priority
    due = ctx.now + source_pb.rule.sla.total_seconds()
    target.due_at = min(target.due_at or due, due)
    return [
        _message(
            target_pb,
            ctx,
            target,
            "updated",
            fire.reason,
            {**fire.evidence, "escalated_from": previous},
            previous,
            list(source_pb.rule.steps),
        )
    ]
