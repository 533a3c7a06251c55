"""Trigger checks of the engagement playbooks (activity-events, milestone-events): cadence,
QBRs, responsiveness, success-plan milestones and onboarding (DOMAIN.md, Engagement)."""

from __future__ import annotations

from config.rules import PRIORITY_RANK, CompiledPlaybook

from .days import day_iso
from .engagement import iso_date, iso_time, milestone_evidence
from .eval_context import EvalContext
from .lifecycle import Check, Fire
from .state import DAY, TaskState


def _days_word(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def check_cadence_overdue(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    view = ctx.engagement
    if view is None or view.next_checkin_day is None:
        return check  # no activity data: no cadence to keep
    overdue = view.today - view.next_checkin_day
    due = day_iso(view.next_checkin_day)
    last = view.last_checkin
    if overdue > p.grace_days:
        segment = ctx.state.segment
        tier = f"{segment.replace('_', '-')} " if segment else ""
        since = (
            f"the last one was on {iso_date(last)}"
            if last is not None
            else "none is on record since activity data began on "
            f"{iso_date(ctx.state.engagement.first_at)}"
        )
        plan_days = ctx.compiled.engine_plan.checkin_days
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=(
                f"The {tier}check-in (every {_days_word(plan_days)}) was due on {due}, "
                f"{_days_word(overdue)} ago; {since}."
            ),
            evidence={
                "next_checkin_due": due,
                "days_overdue": overdue,
                "last_checkin_at": iso_time(last),
                "checkin_every_days": plan_days,
                "checkin_kinds": list(ctx.rules.engagement.checkin_kinds),
                "segment": segment,
            },
        )
    elif task.open:
        check.resolve = (
            f"A check-in was logged on {iso_date(last)}; the next one is due on {due}."
            if last is not None
            else f"The next check-in is due on {due}."
        )
        check.resolve_evidence = {"last_checkin_at": iso_time(last), "next_checkin_due": due}
    return check


def check_qbr_due(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    view = ctx.engagement
    if view is None or view.qbr_due_day is None:
        if task.open:
            check.resolve = "The account's tier holds no QBRs any more."
        return check
    days = view.qbr_due_day - view.today
    due = day_iso(view.qbr_due_day)
    booked = view.booked_day
    if booked is None and days <= p.due_within_days:
        when = f"in {_days_word(days)}" if days >= 0 else f"{_days_word(-days)} ago"
        last = (
            f"the last QBR was held on {iso_date(view.last_qbr)}"
            if view.last_qbr is not None
            else "no QBR is on record"
        )
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=f"The next QBR is due on {due} ({when}) and none is booked; {last}.",
            evidence={
                "qbr_due": due,
                "days_to_qbr_due": days,
                "last_qbr_at": iso_time(view.last_qbr),
                "qbr_every_days": ctx.compiled.engine_plan.qbr_days,
                "due_within_days": p.due_within_days,
                "qbrs_held_365d": view.qbrs_365d,
            },
        )
    elif task.open:
        if booked is not None:
            check.resolve = f"A QBR is booked for {day_iso(booked)}."
        else:
            check.resolve = (
                f"A QBR was held on {iso_date(view.last_qbr)}; the next one is due on {due}."
            )
        check.resolve_evidence = {
            "booked_for": day_iso(booked) if booked is not None else None,
            "last_qbr_at": iso_time(view.last_qbr),
            "qbr_due": due,
        }
    return check


def check_customer_unresponsive(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    view = ctx.engagement
    outreach = view.open_outreach if view is not None else []
    if outreach:
        days = int((ctx.now - outreach[0][0]) // DAY)
        if days >= p.unanswered_days:
            sent_at, activity_id, kind, contact = outreach[0]
            more = f" ({len(outreach)} outreach awaiting a reply)" if len(outreach) > 1 else ""
            check.fire = Fire(
                priority=pb.rule.priority,
                reason=(
                    f"The customer has not answered the {kind} of {iso_date(sent_at)} for "
                    f"{_days_word(days)}, at or over the {p.unanswered_days}-day limit{more}."
                ),
                evidence={
                    "activity_id": activity_id,
                    "kind": kind,
                    "contact_id": contact,
                    "sent_at": iso_time(sent_at),
                    "days_unanswered": days,
                    "unanswered_days": p.unanswered_days,
                    "open_outreach": len(outreach),
                    "last_inbound_at": iso_time(view.last_in if view else None),
                },
            )
            return check
    if task.open:
        last_in = view.last_in if view is not None else None
        check.resolve = (
            f"The customer replied on {iso_date(last_in)}."
            if last_in is not None
            else "No outreach is awaiting a reply any more."
        )
        check.resolve_evidence = {
            "last_inbound_at": iso_time(last_in),
            "open_outreach": len(outreach),
        }
    return check


def check_milestone_overdue(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    view = ctx.engagement
    today = view.today if view is not None else int(ctx.now // DAY)
    overdue = [e for e in (view.overdue if view is not None else []) if today - e[2] > p.grace_days]
    if overdue:
        priority = pb.rule.priority
        for entry in overdue:
            phase_priority = p.phase_priority.get(entry[3], pb.rule.priority)
            if PRIORITY_RANK[phase_priority] > PRIORITY_RANK[priority]:
                priority = phase_priority
        first = overdue[0]
        status = f", {first[1].replace('_', ' ')}" if first[1] != "planned" else ""
        others = f" and {len(overdue) - 1} more" if len(overdue) > 1 else ""
        newest = max(overdue, key=lambda e: (e[2], e[6], e[7]))
        check.fire = Fire(
            priority=priority,
            reason=(
                f'Success-plan milestone "{first[4]}" ({first[3]} phase{status}) was due on '
                f"{day_iso(first[2])}, {_days_word(today - first[2])} ago{others}."
            ),
            evidence={
                "milestones_overdue": len(overdue),
                "milestones": [milestone_evidence(e, today) for e in overdue[:10]],
            },
            # A milestone newly overdue (or given a new date and overdue again) updates the task.
            key=f"{newest[6]}/{newest[7]}@{day_iso(newest[2])}",
        )
    elif task.open:
        check.resolve = "No success-plan milestone is overdue any more."
        check.resolve_evidence = {
            "milestones_open": view.milestones_open if view is not None else None
        }
    return check


def check_onboarding_stalled(pb: CompiledPlaybook, ctx: EvalContext, task: TaskState) -> Check:
    p = pb.params
    check = Check()
    view = ctx.engagement
    if view is None or view.contract_day is None:
        return check
    reached = view.first_value_at
    if reached is not None:
        if task.open:
            days = max(0, int(reached // DAY) - view.contract_day)
            check.resolve = (
                f"The account reached first value on {iso_date(reached)}, "
                f"{_days_word(days)} after contract start."
            )
            check.resolve_evidence = {
                "first_value_at": iso_time(reached),
                "days_to_first_value": days,
            }
        return check
    since = view.today - view.contract_day
    if not p.target_days <= since <= p.window_days:
        return check
    first_seen = ctx.state.first_seen
    if first_seen is not None and int(first_seen // DAY) <= view.contract_day + p.target_days:
        start = day_iso(view.contract_day)
        plan = ctx.compiled.engine_plan
        features = list(plan.first_value_features)
        used = view.value_used
        missing = [f for f in features if f not in used]
        needed = f", {plan.first_value_min} needed" if plan.first_value_min < len(features) else ""
        check.fire = Fire(
            priority=pb.rule.priority,
            reason=(
                f"{_days_word(since).capitalize()} after contract start ({start}) the account "
                f"has not reached first value: {len(used)} of {len(features)} first-value "
                f"features used{needed} (target: {_days_word(p.target_days)})."
            ),
            evidence={
                "contract_start": start,
                "days_since_contract_start": since,
                "target_days": p.target_days,
                "first_value_features": features,
                "first_value_min_features": plan.first_value_min,
                "features_used": list(used),
                "features_missing": missing,
            },
        )
    return check
