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

from config.rules import Rules
from events.models import (
    AccountEvent,
    ActivityEvent,
    AnyInbound,
    HealthScore,
    MilestoneEvent,
    NpsEvent,
    PlaybookTask,
    TaskFeedback,
    TicketEvent,
    UsageEvent,
)

from .engagement import engagement_view, fold_activity, fold_milestone, quiet_candidates
from .feedback import apply_feedback
from .fold import (
    AccountChange,
    TicketChange,
    fold_account,
    fold_nps,
    fold_ticket,
    fold_usage,
    prune,
    remember_event,
)
from .health import score_health
from .lifecycle import Check, TaskContext, escalate, step
from .metrics import compute_metrics
from .plan import Plan, plan_for
from .state import DAY, AccountState, TaskState, to_dt, to_ts
from .triggers import CHECKS, EvalContext

__all__ = [
    "AccountState",
    "Outcome",
    "advance_to",
    "apply_event",
    "evaluation_boundaries",
    "new_state",
    "next_due",
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
    ts = to_ts(event.occurred_at)
    if not remember_event(state, event, ts, rules.dedup):
        return Outcome(applied=False)
    out = Outcome(applied=True)
    seg_rules = rules.for_segment(state.facts.get("segment"))
    interval = seg_rules.interval_seconds
    if state.last_boundary is None:
        # The account's first event: nothing happened before it worth evaluating.
        state.last_boundary = math.floor(ts / interval) * interval
    elif ts >= state.last_boundary + interval:
        _catch_up(state, ts, seg_rules, out)

    if isinstance(event, UsageEvent):
        # Hot path: usage never evaluates mid-interval.
        quiet = state.quiet
        if quiet is None:
            fold_usage(state, event, seg_rules, ts)
            return out
        first_seen, champion = state.first_seen, state.champion_last_active
        fold_usage(state, event, seg_rules, ts)
        # Usage of the quiet evaluation's own day (or later) is in no window until that day
        # has completed, and the quiet never outlasts the day; only a late usage event (a
        # completed day), a new first event or champion activity can change an evaluation.
        if (
            int(ts // DAY) < quiet[2]
            or state.first_seen != first_seen
            or state.champion_last_active != champion
        ):
            state.quiet = None
        return out

    state.quiet = None  # the event changes the state: nothing is known to be quiet any more

    if isinstance(event, TaskFeedback):
        now = max(ts, state.last_eval or ts, state.last_boundary)
        out.tasks.extend(apply_feedback(state, event, rules.for_segment(state.segment), now))
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
    elif isinstance(event, ActivityEvent):
        fold_activity(state, event, seg_rules, ts)
    elif isinstance(event, MilestoneEvent):
        fold_milestone(state, event, seg_rules, ts)
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


def next_due(state: AccountState, rules: Rules) -> float | None:
    """The earliest event time (an evaluation boundary) at which `advance_to` could publish
    anything or change the state beyond its bookkeeping of skipped boundaries; None when the
    account has never been evaluated (it has no event yet).

    That is the first boundary after `last_boundary` that is not before `last_eval` (time does
    not go back) nor, after an evaluation that changed nothing, before its quiet-until instant
    (see _quiet_until). Advancing the account only at these times gives exactly the outputs of
    advancing it at every boundary; any `apply_event` may bring the time forward (an event
    clears the quiet), so a scheduler recomputes it after every event and every advance.
    Before applying an event to an account, a scheduler advances it to the clock it has
    reached: that evaluates nothing (every boundary before `next_due` is skipped) but moves
    the account's evaluation time, at which a late event is evaluated, where evaluating every
    boundary would have left it.
    """
    last = state.last_boundary
    if last is None:
        return None
    seg_rules = rules.for_segment(state.segment)
    interval = seg_rules.evaluation.interval.total_seconds()
    due = last + interval
    floor = state.last_eval
    quiet = state.quiet
    if quiet is not None and quiet[1] is seg_rules:
        floor = quiet[0] if floor is None else max(floor, quiet[0])
    if floor is not None and floor > due:
        due = math.ceil(floor / interval) * interval
    return due


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
        quiet = state.quiet
        if quiet is not None and boundary < quiet[0] and quiet[1] is rules:
            # Nothing the evaluation reads has changed since the last one, which changed
            # nothing: it would do nothing again (see _quiet_until).
            state.last_eval = boundary
            state.last_boundary = boundary
            continue
        out.extend(_evaluate(state, boundary, rules))
        state.last_boundary = boundary


_BLANK_TASK = TaskState()  # read-only stand-in for a playbook that never had a task


def _evaluate(
    state: AccountState,
    now: float,
    rules: Rules,
    event: AnyInbound | None = None,
    ticket: TicketChange | None = None,
    account: AccountChange | None = None,
) -> Outcome:
    out = Outcome(applied=True)
    state.quiet = None
    state.last_eval = now
    prune(state, rules, now)
    plan = plan_for(rules)
    engagement = engagement_view(state, now, plan)
    metrics = compute_metrics(state, now, rules, engagement)

    result = score_health(metrics, plan.health)
    previous_published = state.published
    # What an evaluation may change without publishing anything (see _quiet_until).
    previous = state.health
    previous_at_risk_from = state.at_risk_from
    previous_milestones = state.renewal_milestones
    snapshot = None
    if result is not None:
        score = result.score
        band = result.band
        warming = result.warming_up
        snapshot = {"score": score, "band": band}
        if band == "at_risk":
            if previous is None or previous["band"] != "at_risk":
                # The end of the warm-up (usage and adoption joining a provisional score) is a
                # change of model, not a fall: "from above" compares like with like.
                entered_from_above = (
                    previous is not None
                    and previous["score"] >= rules.health.bands.healthy
                    and bool(previous.get("warmup")) == warming
                )
                state.at_risk_from = previous["score"] if entered_from_above else None
                state.at_risk_since = now if entered_from_above else None
        else:
            state.at_risk_from = None
            state.at_risk_since = None
        health = {"score": score, "band": band, "components": result.points}
        if warming:
            health["warmup"] = True
        state.health = health
        published = state.published
        # Also published when the warm-up ends, even at the same score: the explanation now
        # counts usage and adoption.
        if published is None or (
            published["score"],
            published["band"],
            bool(published.get("warmup")),
        ) != (score, band, warming):
            out.health.append(
                HealthScore(
                    account_id=state.account_id,
                    score=score,
                    band=band,  # type: ignore[arg-type]
                    components=result.components,
                    previous_score=published["score"] if published else None,
                    previous_band=published["band"] if published else None,
                    computed_at=to_dt(now),
                    components_missing=result.missing,
                )
            )
            state.published = {**snapshot, "warmup": True} if warming else snapshot
        metrics["health_score"] = score

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
        engagement=engagement,
    )
    tctx = TaskContext(state=state, now=now, health=snapshot)
    by_id = plan.by_id
    critical_steps = plan.critical_steps
    tasks = state.tasks
    messages = out.tasks
    churned = _churned_since(state)
    for pb in compiled.playbooks:
        task = tasks.get(pb.id)
        if churned is not None:
            # A churned account (status `churned`, CONTRACT.md) gets no more tasks; what is
            # still open resolves, saying why.
            if task is not None and task.open:
                messages.extend(step(pb, _churned_check(churned), task, tctx))
            continue
        if task is None:
            # The checks only read a task that is not open; a fresh one is made only when
            # something fires (step never changes a task on neither fire nor resolve).
            check = CHECKS[pb.kind](pb, ctx, _BLANK_TASK)
            if check.fire is None:
                continue
            task = TaskState()
        else:
            check = CHECKS[pb.kind](pb, ctx, task)
        if check.escalate is not None and check.fire is not None:
            target_pb = by_id[check.escalate]
            messages.extend(escalate(target_pb, tasks[target_pb.id], pb, check.fire, tctx))
            continue
        extra = critical_steps.get(pb.kind) if task.escalated else None
        messages.extend(step(pb, check, task, tctx, extra))
        if task.episode:
            tasks[pb.id] = task
    if (
        event is None
        and not out.tasks
        and not out.health
        and not ctx.changed
        and state.health == previous
        and state.at_risk_from == previous_at_risk_from
        and state.renewal_milestones is previous_milestones
    ):
        state.quiet = (_quiet_until(state, now, rules, plan), rules, int(now // DAY))
    return out


def _churned_since(state: AccountState) -> str | None:
    """The date the account was marked churned, or None while it is active."""
    if state.facts.get("status") != "churned":
        return None
    return str(state.facts.get("status_changed_on") or "")


def _churned_check(since: str) -> Check:
    when = f" on {since}" if since else ""
    return Check(
        resolve=f"The account was marked churned{when}; it gets no more tasks.",
        resolve_evidence={"status": "churned", "status_changed_on": since or None},
    )


_MARGIN = 1.0  # seconds: a threshold is treated as reached a little early (float rounding)


def _quiet_until(state: AccountState, now: float, rules: Rules, plan: Plan) -> float:
    """The first instant after `now` from which an evaluation might differ from the one just
    made at `now`, given that it changed nothing (no message, no state) and no event is folded
    in between. Boundaries before it may be skipped: they would change nothing either.

    An evaluation is a function of the state and of these time-dependent quantities, each of
    which is constant until the instant computed for it below:
    - everything derived from the UTC day (usage windows, observed_days, days_to_renewal,
      days_since_contract_start, pruning): the end of the day;
    - days_since_champion_active: the next whole day since the champion's reference time;
    - escalations_30d: an escalation entering or leaving the support window;
    - latest_nps / days_since_last_nps: a response entering the past or leaving the window,
      or the next whole day since the latest one;
    - oldest_urgent_ticket_age_hours: changes continuously, so no quiet at all while an
      urgent ticket is open and a condition reads it;
    - engagement (engagement.quiet_candidates): whole days since the last touch, the last
      inbound activity and the oldest outreach awaiting a reply; replies leaving the
      engagement window, QBRs leaving the last 365 days. Its dates (next check-in, QBR due and
      booked dates, milestone due dates, the onboarding target) change with the day;
    - task state: a cool-down ending, a detractor task's resolve_after, a health task's
      recovery weeks (ok_since + resolve_weeks).
    """
    until = (int(now // DAY) + 1) * DAY  # exact: boundaries below it are on the same day
    cands: list[float] = []
    if state.facts.get("champion_user_id") is not None:
        ref = state.champion_last_active
        if ref is None:
            ref = state.champion_since
        if ref is not None:
            cands.append(ref + (max(0, int((now - ref) // DAY)) + 1) * DAY)
    esc_window = plan.esc_window
    for entry in state.escalations:
        cands.append(entry[0])
        cands.append(entry[0] + esc_window)
    latest = None
    for entry in state.nps:
        if entry[0] > now:
            cands.append(entry[0])
        else:
            latest = entry
    if latest is not None:
        cands.append(latest[0] + plan.nps_window)
        cands.append(latest[0] + (int((now - latest[0]) // DAY) + 1) * DAY)
    quiet_candidates(state, now, plan, cands)
    if state.at_risk_since is not None:
        # health_at_risk opens once the account has stayed at risk its confirm_days.
        for pb in rules.compiled.by_kind.get("health_at_risk", ()):
            cands.append(state.at_risk_since + pb.params.confirm_days * DAY)
    if plan.reads_urgent_age and any(t.priority == "urgent" for t in state.tickets.values()):
        return now
    tasks = state.tasks
    for pid, kind, cooldown, threshold in plan.timed:
        task = tasks.get(pid)
        if task is None:
            continue
        if task.open and task.snoozed_until is not None and task.snoozed_until > now:
            cands.append(task.snoozed_until)  # held updates may come out then
        if not task.open:
            if task.resolved_at is not None:
                cands.append(task.resolved_at + cooldown)
        elif threshold is not None:
            if kind == "nps_detractor":
                times = [e[0] for e in state.nps if e[2] in task.keys]
                if not times and not task.opened_at:
                    return now  # measured from `now` itself (check_nps_detractor)
                cands.append(max(times, default=task.opened_at or now) + threshold)
            elif task.ok_since is not None:
                cands.append(task.ok_since + threshold)
    # Every quantity above is monotone in time; one whose threshold was crossed well before
    # `now` stays crossed. A threshold at about `now` may still be crossed just after it
    # ("leaves the window when now > t + window"), so it ends the quiet at once.
    for c in cands:
        if c > now - _MARGIN and c - _MARGIN < until:
            until = c - _MARGIN
    return until
