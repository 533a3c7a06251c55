"""The pure core API (docs/DESIGN-NOTES.md): fold events into account state and evaluate it at
event-time boundaries. No I/O, no wall clock: the same events give the same outputs.

Evaluation time never goes back: a late event folds into its buckets and, when it is not a
usage event, is evaluated at the account's latest evaluation time. Tasks opened by such an
evaluation carry that time as `created_at`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from config.rules import CompiledPlaybook, Rules
from events.models import (
    AccountEvent,
    AnyInbound,
    HealthScore,
    NpsEvent,
    PlaybookTask,
    TicketEvent,
    UsageEvent,
)

from .fold import (
    AccountChange,
    TicketChange,
    fold_account,
    fold_nps,
    fold_ticket,
    fold_usage,
    prune,
    remember_event_id,
)
from .health import score_health
from .lifecycle import TaskContext, escalate, step
from .metrics import compute_metrics
from .state import DAY, AccountState, TaskState, to_dt, to_ts
from .triggers import CHECKS, EvalContext

__all__ = [
    "AccountState",
    "Outcome",
    "advance_to",
    "apply_event",
    "evaluation_boundaries",
    "new_state",
]


@dataclass
class Outcome:
    applied: bool  # False when the event was a duplicate (event_id already seen)
    # Only when the score or band changed, or the warm-up ended (see _evaluate).
    health: list[HealthScore] = field(default_factory=list)
    tasks: list[PlaybookTask] = field(default_factory=list)  # opened / updated / resolved

    def extend(self, other: Outcome) -> None:
        self.health.extend(other.health)
        self.tasks.extend(other.tasks)


def new_state(account_id: str) -> AccountState:
    return AccountState(account_id=account_id)


def apply_event(state: AccountState, event: AnyInbound, rules: Rules) -> Outcome:
    """Fold one event into the state (mutated) and evaluate as DESIGN-NOTES.md says."""
    if not remember_event_id(state, event.event_id, rules.dedup.max_event_ids):
        return Outcome(applied=False)
    out = Outcome(applied=True)
    ts = to_ts(event.occurred_at)
    seg_rules = rules.for_segment(state.facts.get("segment"))
    interval = seg_rules.interval_seconds
    if state.last_boundary is None:
        # The account's first event: nothing happened before it worth evaluating.
        state.last_boundary = math.floor(ts / interval) * interval
    elif ts >= state.last_boundary + interval:
        _catch_up(state, ts, seg_rules, out)

    if isinstance(event, UsageEvent):
        # Hot path: usage never evaluates mid-interval.
        fold_usage(state, event, seg_rules, ts)
        return out

    ticket: TicketChange | None = None
    account: AccountChange | None = None
    if isinstance(event, TicketEvent):
        ticket = fold_ticket(state, event, seg_rules, ts)
    elif isinstance(event, NpsEvent):
        fold_nps(state, event, seg_rules, ts)
    elif isinstance(event, AccountEvent):
        account = fold_account(state, event, ts)
        seg_rules = rules.for_segment(state.segment)  # the segment may just have changed
    now = max(ts, state.last_eval or ts, state.last_boundary)
    out.extend(_evaluate(state, now, seg_rules, event=event, ticket=ticket, account=account))
    return out


def advance_to(state: AccountState, now: datetime, rules: Rules) -> Outcome:
    """Evaluate every boundary up to `now` not evaluated yet (time-driven triggers)."""
    out = Outcome(applied=True)
    if state.last_boundary is None:
        return out
    seg_rules = rules.for_segment(state.segment)
    ts = to_ts(now)
    if ts >= state.last_boundary + seg_rules.evaluation.interval.total_seconds():
        _catch_up(state, ts, seg_rules, out)
    return out


def evaluation_boundaries(last: float, target: float, rules: Rules) -> list[float]:
    """Boundaries in (last, target] to evaluate, capped for long gaps.

    Boundaries are multiples of the interval since the epoch. Up to `catchup_full_boundaries`
    are evaluated one by one; beyond that only the first boundary of each UTC day (usage windows
    move once a day) for at most `catchup_max_days` days, and always the final boundary. A year
    of silence costs ~400 evaluations instead of ~8,800.
    """
    ev = rules.evaluation
    interval = ev.interval.total_seconds()
    first = math.floor(last / interval) + 1
    final = math.floor(target / interval)
    if final < first:
        return []
    if final - first + 1 <= ev.catchup_full_boundaries:
        return [k * interval for k in range(first, final + 1)]
    full_end = first + ev.catchup_full_boundaries - 1
    out = [k * interval for k in range(first, full_end + 1)]
    day = math.floor(full_end * interval / DAY) + 1
    for _ in range(ev.catchup_max_days):
        k = math.ceil(day * DAY / interval)
        if k >= final:
            break
        if k > full_end:
            out.append(k * interval)
        day += 1
    out.append(final * interval)
    return out


def _catch_up(state: AccountState, ts: float, rules: Rules, out: Outcome) -> None:
    assert state.last_boundary is not None
    for boundary in evaluation_boundaries(state.last_boundary, ts, rules):
        if state.last_eval is not None and boundary < state.last_eval:
            # Already evaluated later than this boundary (by an event): time does not go back.
            state.last_boundary = boundary
            continue
        out.extend(_evaluate(state, boundary, rules))
        state.last_boundary = boundary


def _evaluate(
    state: AccountState,
    now: float,
    rules: Rules,
    event: AnyInbound | None = None,
    ticket: TicketChange | None = None,
    account: AccountChange | None = None,
) -> Outcome:
    out = Outcome(applied=True)
    state.last_eval = now
    prune(state, rules, now)
    metrics = compute_metrics(state, now, rules)

    result = score_health(metrics, rules.health)
    previous_published = state.published
    snapshot = None
    if result is not None:
        snapshot = {"score": result.score, "band": result.band}
        previous = state.health
        if result.band == "at_risk":
            if previous is None or previous["band"] != "at_risk":
                # The end of the warm-up (usage and adoption joining a provisional score) is a
                # change of model, not a fall: "from above" compares like with like.
                entered_from_above = (
                    previous is not None
                    and previous["score"] >= rules.health.bands.healthy
                    and bool(previous.get("warmup")) == result.warming_up
                )
                state.at_risk_from = previous["score"] if entered_from_above else None
        else:
            state.at_risk_from = None
        state.health = {
            **snapshot,
            "components": {c: v.points for c, v in sorted(result.components.items())},
        }
        if result.warming_up:
            state.health["warmup"] = True
        published = state.published
        # Also published when the warm-up ends, even at the same score: the explanation now
        # counts usage and adoption.
        if published is None or (
            published["score"],
            published["band"],
            bool(published.get("warmup")),
        ) != (result.score, result.band, result.warming_up):
            out.health.append(
                HealthScore(
                    account_id=state.account_id,
                    score=result.score,
                    band=result.band,  # type: ignore[arg-type]
                    components=result.components,
                    previous_score=published["score"] if published else None,
                    previous_band=published["band"] if published else None,
                    computed_at=to_dt(now),
                    components_missing=result.missing,
                )
            )
            state.published = {**snapshot, "warmup": True} if result.warming_up else snapshot
        metrics["health_score"] = result.score

    renewal = state.facts.get("renewal_date")
    moved = None
    if renewal != state.renewal_for:
        if state.renewal_for is not None:
            moved = (state.renewal_for, renewal)
        state.renewal_for = renewal
        state.renewal_milestones = []

    compiled = rules.compiled
    ctx = EvalContext(
        state=state,
        now=now,
        rules=rules,
        compiled=compiled,
        metrics=metrics,
        health=snapshot,
        previous_health=previous_published,
        event=event,
        ticket=ticket,
        account=account,
        renewal_moved=moved,
    )
    tctx = TaskContext(state=state, now=now, health=snapshot)
    by_id: dict[str, CompiledPlaybook] = {pb.id: pb for pb in compiled.playbooks}
    critical_steps: dict[str, list[str]] = {}
    for pb in compiled.by_kind.get("health_critical", [])[:1]:
        critical_steps["health_at_risk"] = list(pb.rule.steps)
    for pb in compiled.playbooks:
        task = state.tasks.get(pb.id) or TaskState()
        check = CHECKS[pb.kind](pb, ctx, task)
        if check.escalate is not None and check.fire is not None:
            target_pb = by_id[check.escalate]
            out.tasks.extend(escalate(target_pb, state.tasks[target_pb.id], pb, check.fire, tctx))
            continue
        extra = critical_steps.get(pb.kind) if task.escalated else None
        out.tasks.extend(step(pb, check, task, tctx, extra))
        if task.episode:
            state.tasks[pb.id] = task
    return out
