"""Trigger checks: one function per built-in kind, plus user-defined condition playbooks.

Each check looks at the metrics of one evaluation (and the event being applied, for the
event-driven kinds) and returns a lifecycle `Check`. Every threshold comes from the playbook's
params; only the kinds themselves live in code.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from config.rules import Clause, CompiledPlaybook
from events.models import NpsEvent

from .engagement_triggers import (
    check_cadence_overdue,
    check_customer_unresponsive,
    check_milestone_overdue,
    check_onboarding_stalled,
    check_qbr_due,
)
from .eval_context import EvalContext
from .guards import (
    EPS,
    book_days_off,
    longest_gap,
    silence_limit,
)
from .lifecycle import Check, Fire
from .state import DAY, AccountState, TaskState, to_dt
from .usage import WEEK, WEEK_CLOSED_DAYS, users_in_window
from .usage_triggers import (
    book_baseline,
    check_expansion_signal,
    check_low_adoption,
    check_usage_drop,
)

__all__ = ["CHECKS", "EvalContext", "holds"]


def _open_task_of_kind(ctx: EvalContext, kind: str) -> CompiledPlaybook | None:
    for pb in ctx.compiled.by_kind.get(kind, []):
        task = ctx.state.tasks.get(pb.id)
        if task is not None and task.open:
            return pb
    return None


# --- event-driven -------------------------------------------------------------------------


def check_nps_detractor(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    ev = ctx.event
    nps = ctx.state.nps
    if (
        isinstance(ev, NpsEvent)
        and ev.score <= p.max_score
        and nps
        and nps[-1][2] == ev.event_id  # the latest response: a superseded late one is moot
        and ctx.now - nps[-1][0] < p.resolve_after.total_seconds()
        and (ev.score <= p.mild_above_score or _mild_detractor_confirmed(p, ctx, ev))
    ):
        previous = next((e[1] for e in reversed(nps[:-1])), None)
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=f"An NPS response scored {ev.score}, a detractor (0-{p.max_score}).",
            evidence={
                "score": ev.score,
                "detractor_max_score": p.max_score,
                "previous_score": previous,
                "respondent_id": ev.respondent_id,
                "comment": (ev.comment or "")[:500] or None,
                "responded_at": to_dt(nps[-1][0]).isoformat(),
            },
            key=ev.event_id,
        )
    if task.open:
        detractor_times = [e[0] for e in nps if e[2] in task.keys]
        last_detractor = max(detractor_times, default=task.opened_at or ctx.now)
        later_ok = [e for e in nps if e[0] > last_detractor and e[1] >= p.resolve_min_score]
        if later_ok:
            score = later_ok[-1][1]
            check.resolve = (
                f"A later NPS response scored {score}, at or above {p.resolve_min_score}."
            )
            check.resolve_evidence = {"score": score, "resolve_min_score": p.resolve_min_score}
        elif ctx.now - last_detractor >= p.resolve_after.total_seconds():
            days = int((ctx.now - last_detractor) // DAY)
            check.resolve = f"No new detractor response in {days} days."
            check.resolve_evidence = {"days_since_detractor": days}
    return check


def _mild_detractor_confirmed(p: Any, ctx: EvalContext, ev: NpsEvent) -> bool:
    """A 5-6 counts with a second sign: poor health, a repeat, or the champion answering."""
    if ctx.health is not None and ctx.health["score"] < p.mild_needs_health_below:
        return True
    if p.mild_usage_decline > 0:
        usage = ctx.state.usage
        yesterday = int(ctx.now // DAY) - 1
        now_users = users_in_window(usage, yesterday, WEEK)
        before = users_in_window(usage, yesterday - 4 * WEEK, WEEK)
        if before and now_users <= before * (1 - p.mild_usage_decline) + EPS:
            return True
    if ev.respondent_id is not None and ev.respondent_id == ctx.state.facts.get("champion_user_id"):
        return True
    since = ctx.now - p.mild_repeat_within.total_seconds()
    return any(since <= e[0] and e[1] <= p.max_score and e[2] != ev.event_id for e in ctx.state.nps)


def _escalated_or_urgent(state: AccountState) -> list[str]:
    return sorted(tid for tid, t in state.tickets.items() if t.escalated or t.priority == "urgent")


def check_support_escalation(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    change = ctx.ticket
    hot = _escalated_or_urgent(ctx.state)
    if change is not None and change.applied and change.ticket_id in ctx.state.tickets:
        what = None
        if change.escalated_now and p.on_escalated:
            what = "was escalated"
        elif change.urgent_opened and p.on_urgent_opened:
            what = "was opened as urgent"
        if what is not None:
            t = ctx.state.tickets[change.ticket_id]
            check.fire = Fire(
                priority=pb.rule.priority,
                reason=(
                    f"Ticket {change.ticket_id} {what} ({len(hot)} escalated or urgent "
                    f"ticket(s) open, {ctx.metrics['escalations_30d']} escalation(s) in 30 days)."
                ),
                evidence={
                    "ticket_id": change.ticket_id,
                    "ticket_priority": t.priority,
                    "ticket_status": t.status,
                    "escalated_or_urgent_open": hot,
                    "escalations_30d": ctx.metrics["escalations_30d"],
                    "open_tickets": ctx.metrics["open_tickets"],
                },
                key=change.ticket_id,
            )
    if task.open and not hot:
        check.resolve = "All escalated and urgent tickets are resolved or closed."
        check.resolve_evidence = {"open_tickets": ctx.metrics["open_tickets"]}
    return check


def check_champion_silent(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    days = ctx.metrics["days_since_champion_active"]
    champion = ctx.state.facts.get("champion_user_id")
    if days is None:
        if task.open:
            check.resolve = "The account no longer has a champion to follow."
        return check
    limit = p.max_inactive_days
    gap = off = shared = 0
    set_aside = False
    counted_because: str | None = None
    if days > limit and champion is not None:
        # Only read the champion's record and the book when the floor is passed (rarely).
        if p.rhythm_factor > 0:
            gap = longest_gap(ctx.state.users.get(champion))
            limit = silence_limit(p.max_inactive_days, p.rhythm_factor, gap)
        today = int(ctx.now // DAY)
        off, shared = book_days_off(
            book_baseline(ctx),
            today - days,
            today - 1,
            ctx.rules.book_baseline.quiet_day_below,
            _shared_slump(ctx, today) if p.peer_slump_days_off else None,
        )
        counted_because = _slump_counts(ctx, today, today - days) if shared else None
        set_aside = bool(shared) and counted_because is None
    if days - off - (shared if set_aside else 0) > limit:
        rhythm = (
            f", and more than {p.rhythm_factor:g} × their longest gap of {gap} days in the "
            "weeks before"
            if gap
            else ""
        )
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=(
                f"Champion {champion} has not been active for {days} days, more than the "
                f"{p.max_inactive_days}-day limit{rhythm}"
                + _days_off_text(off, 0 if set_aside else shared, counted_because)
            ),
            evidence={
                "champion_user_id": champion,
                "days_since_champion_active": days,
                "max_inactive_days": p.max_inactive_days,
                "usual_longest_gap_days": gap,
                "book_days_off": off,
                "peer_slump_days": shared,
                "silence_limit_days": limit,
            },
        )
    elif task.open:
        check.resolve = f"Champion {champion} was active {days} days ago."
        check.resolve_evidence = {"champion_user_id": champion, "days_since_champion_active": days}
    return check


def _shared_slump(ctx: EvalContext, today: int) -> tuple[float, int] | None:
    """(share, last readable day) for book_days_off when the peer guard is on (book.py,
    peers); else None."""
    rules = ctx.rules.book_baseline
    if ctx.state.book is None or not rules.enabled or rules.cohort_share <= 0:
        return None
    return rules.cohort_share, today - 2


def _slump_counts(ctx: EvalContext, today: int, last_seen: int) -> str | None:
    """None when the slump's days are set aside: the account dipped with it since the
    champion was last seen, its 7-day users ending yesterday under `peer_dip_below` of those
    ending on `last_seen` (not its rolling usual, which a slump of more than three weeks
    becomes). Otherwise why they count: the account's users are not in the slump (or are back
    from it), or the silence is longer than the account's exact history (usage.WEEK_CLOSED_DAYS)."""
    if today - last_seen > WEEK_CLOSED_DAYS:
        return f"a silence of more than {WEEK_CLOSED_DAYS} days counts whole"
    rules = ctx.rules.book_baseline
    usage = ctx.state.usage
    before = users_in_window(usage, last_seen, WEEK)
    if before >= max(1, rules.peer_min_users) and (
        users_in_window(usage, today - 1, WEEK) < rules.peer_dip_below * before
    ):
        return None
    return "the account's other users are not in it"


def _days_off_text(off: int, shared: int, counted_because: str | None) -> str:
    parts = [f"{off} of them days the whole book was off"] if off else []
    if shared:
        parts.append(f"{shared} of them in a slump its peers shared, but {counted_because}")
    return f" ({'; '.join(parts)})." if parts else "."


def check_renewal_approaching(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    state = ctx.state
    renewal = state.facts.get("renewal_date")
    days = ctx.metrics["days_to_renewal"]
    if ctx.renewal_moved is not None and task.open:
        old, new = ctx.renewal_moved
        check.resolve = f"The renewal date moved from {old} to {new}."
        check.resolve_evidence = {"previous_renewal_date": old, "renewal_date": new}
        return check
    if days is None:
        return check
    if days < 0:
        if task.open:
            check.resolve = f"The renewal date {renewal} has passed."
            check.resolve_evidence = {"renewal_date": renewal}
        return check
    due = [m for m in p.milestones_days if days <= m]
    if not due:
        return check
    milestone = min(due)
    if milestone in state.renewal_milestones:
        return check
    # Every milestone at or above this one is now behind us (a late start skips to it).
    state.renewal_milestones = sorted(set(state.renewal_milestones) | set(due))
    check.fire = Fire(
        priority=p.milestone_priority.get(milestone, pb.rule.priority),
        reason=f"The renewal on {renewal} is {days} days away (the {milestone}-day milestone).",
        evidence={
            "renewal_date": renewal,
            "days_to_renewal": days,
            "milestone_days": milestone,
            "arr": state.facts.get("arr"),
        },
        key=f"{renewal}:{milestone}",
    )
    return check


# --- health -------------------------------------------------------------------------------


def _recovery(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState, check: Check) -> None:
    """Resolve once the score has stayed at or above the level for the configured weeks."""
    if not task.open or ctx.health is None:
        return
    p = pb.params
    score = ctx.health["score"]
    if score >= p.resolve_at_least:
        if task.ok_since is None:
            task.ok_since = ctx.now
            ctx.changed = True
        held = ctx.now - task.ok_since
        if held >= p.resolve_weeks * 7 * DAY:
            check.resolve = (
                f"The health score is {score:g}, at or above {p.resolve_at_least:g} for "
                f"{held / (7 * DAY):g} weeks."
            )
            check.resolve_evidence = {"health_score": score, "weeks_above": p.resolve_weeks}
    elif task.ok_since is not None:
        task.ok_since = None
        ctx.changed = True


def _health_evidence(ctx: EvalContext, threshold: float) -> dict[str, Any]:
    components = (ctx.state.health or {}).get("components", {})
    return {
        "health_score": ctx.health["score"] if ctx.health else None,
        "band": ctx.health["band"] if ctx.health else None,
        "threshold": threshold,
        "components_points": components,
    }


def check_health_at_risk(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    check = Check()
    h = ctx.health
    from_score = ctx.state.at_risk_from
    since = ctx.state.at_risk_since
    confirm = pb.params.confirm_days * DAY
    if (
        h is not None
        and h["band"] == "at_risk"
        and from_score is not None
        and (since is None or ctx.now - since + 1.0 >= confirm)
        and _open_task_of_kind(ctx, "health_critical") is None
    ):
        bands = ctx.rules.health.bands
        held = f", and has stayed there {pb.params.confirm_days:g} days" if confirm else ""
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=(
                f"The health score fell from {from_score:g} to {h['score']:g}, into the at-risk "
                f"band ({bands.at_risk:g}-{bands.healthy - 1:g}){held}."
            ),
            evidence={
                **_health_evidence(ctx, bands.healthy),
                "previous_score": from_score,
                "confirm_days": pb.params.confirm_days,
            },
        )
    _recovery(pb, ctx, task, check)
    return check


def check_health_critical(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    check = Check()
    h = ctx.health
    bands = ctx.rules.health.bands
    if h is not None and h["score"] < bands.at_risk:
        previous = (ctx.previous_health or {}).get("score")
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=(
                f"The health score is {h['score']:g}, below the critical threshold of "
                f"{bands.at_risk:g}."
            ),
            evidence={**_health_evidence(ctx, bands.at_risk), "previous_score": previous},
        )
        if not task.open:
            at_risk = _open_task_of_kind(ctx, "health_at_risk")
            if at_risk is not None:
                check.escalate = at_risk.id
    _recovery(pb, ctx, task, check)
    return check


# --- user-defined -------------------------------------------------------------------------

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}


def holds(clauses: list[Clause], metrics: dict[str, Any]) -> bool:
    for c in clauses:
        value = metrics.get(c.metric)
        if value is None or not _OPS[c.op](value, c.value):
            return False
    return bool(clauses)


def _fmt_value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def check_condition(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    check = Check()
    rule = pb.rule
    applies = rule.segments is None or ctx.state.segment in rule.segments
    values = {c.metric: ctx.metrics.get(c.metric) for c in pb.condition}
    if applies and holds(pb.condition, ctx.metrics):
        shown = ", ".join(f"{k} = {_fmt_value(v)}" for k, v in values.items())
        check.fire = Fire(
            priority=rule.priority,
            reason=f"The condition `{rule.condition}` holds ({shown}).",
            evidence={"condition": rule.condition, "values": values},
        )
    if task.open:
        if not applies:
            check.resolve = "The account is no longer in a segment this playbook applies to."
        elif pb.resolve_when is not None:
            if holds(pb.resolve_when, ctx.metrics):
                check.resolve = f"The condition `{rule.resolve_when}` holds."
        elif check.fire is None:
            check.resolve = f"The condition `{rule.condition}` no longer holds."
        if check.resolve is not None:
            check.fire = None
            check.resolve_evidence = {
                "values": {
                    c.metric: ctx.metrics.get(c.metric)
                    for c in pb.condition + (pb.resolve_when or [])
                }
            }
    return check


CHECKS: dict[str, Callable[[CompiledPlaybook, EvalContext, TaskState], Check]] = {
    "nps_detractor": check_nps_detractor,
    "usage_drop": check_usage_drop,
    "support_escalation": check_support_escalation,
    "health_at_risk": check_health_at_risk,
    "health_critical": check_health_critical,
    "expansion_signal": check_expansion_signal,
    "renewal_approaching": check_renewal_approaching,
    "champion_silent": check_champion_silent,
    "low_adoption": check_low_adoption,
    "cadence_overdue": check_cadence_overdue,
    "qbr_due": check_qbr_due,
    "customer_unresponsive": check_customer_unresponsive,
    "milestone_overdue": check_milestone_overdue,
    "onboarding_stalled": check_onboarding_stalled,
    "condition": check_condition,
}
