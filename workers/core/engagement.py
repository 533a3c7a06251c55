"""Engagement: CSM touchpoints (activity-events), success-plan milestones (milestone-events) and
time to first value, folded into a small bounded part of the account state, and what an
evaluation reads of it (`EngagementView`, computed once per evaluation).

What is kept (`Engagement`, engagement_state.py; every list capped by `retention`, DOMAIN.md,
Engagement):
- the first activity event's time (the account *has activity data* from then on: the
  engagement component measures responsiveness instead of the champion proxy, and the cadence
  and QBR playbooks run), the last outbound touch per kind and the last inbound touch;
- outreach awaiting a reply (outbound `engagement.outreach_kinds`), the oldest kept: an inbound
  activity answers the outreach it is `in_reply_to` and every earlier one, or, without a known
  `in_reply_to`, every outreach sent at or before it; its reply latency is kept;
- QBRs held (a `qbr` activity) and the latest booking (a `qbr` with `scheduled_for` ahead);
- each plan's milestones, the latest event per milestone (by event time) winning;
- the first use of each first-value feature (the rules' core features by default).
Notes (`kind: note`) are activity data but no touchpoint. Activity and milestone events move
the account's clock but not its first-seen time: their history (a CRM backfill) says nothing
about how long its usage has been observed.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any

from events.models import ActivityEvent, MilestoneEvent

from .days import DAY, day_iso, epoch_day, to_dt, to_ts
from .engagement_state import Engagement

if TYPE_CHECKING:
    from config.rules import Rules

    from .plan import Plan
    from .state import AccountState

YEAR = 365 * DAY
_SEP = "\x1f"
_TITLE_CHARS = 200


def _note_clock(state: AccountState, ts: float) -> None:
    if state.clock is None or ts > state.clock:
        state.clock = ts


# --- folding ------------------------------------------------------------------------------


def fold_activity(state: AccountState, event: ActivityEvent, rules: Rules, ts: float) -> None:
    eng = state.engagement
    _note_clock(state, ts)
    if eng.first_at is None or ts < eng.first_at:
        eng.first_at = ts
    kind = event.activity_kind
    if event.is_booking:
        if kind == "qbr":
            booked = eng.qbr_booked
            if booked is None or ts >= booked[1]:
                assert event.scheduled_for is not None
                eng.qbr_booked = [to_ts(event.scheduled_for), ts]
        return  # a booked touch is no touch yet
    if kind == "note":
        return
    retention = rules.retention
    if kind == "qbr":
        _add_qbr(eng, ts, retention.max_qbrs)
    if event.direction == "outbound":
        last = eng.last_out.get(kind)
        if last is None or ts > last:
            eng.last_out[kind] = ts
        if kind in rules.engagement.outreach_kinds:
            _add_outreach(eng, event, ts, retention.max_open_outreach)
    else:
        if eng.last_in is None or ts > eng.last_in:
            eng.last_in = ts
        _answer(eng, event.in_reply_to, ts, retention.max_replies)


def _add_qbr(eng: Engagement, ts: float, cap: int) -> None:
    if ts not in eng.qbrs:
        bisect.insort(eng.qbrs, ts)
        del eng.qbrs[:-cap]
    booked = eng.qbr_booked
    if booked is not None and booked[1] <= ts:
        eng.qbr_booked = None  # the booked QBR took place (or was replaced by this one)


def _add_outreach(eng: Engagement, event: ActivityEvent, ts: float, cap: int) -> None:
    if eng.last_in is not None and eng.last_in >= ts:
        return  # a late outreach the customer has already answered
    if any(e[1] == event.activity_id for e in eng.outreach):
        return  # the same activity logged again
    bisect.insort(eng.outreach, [ts, event.activity_id, event.activity_kind, event.contact_id])
    del eng.outreach[cap:]  # the oldest are what "unanswered for N days" is about


def _answer(eng: Engagement, in_reply_to: str | None, ts: float, cap: int) -> None:
    out = eng.outreach
    if not out:
        return
    target = None
    if in_reply_to:
        target = next((e for e in out if e[1] == in_reply_to and e[0] <= ts), None)
    cut = target[0] if target is not None else ts
    n = bisect.bisect_right([e[0] for e in out], cut)
    if n == 0:
        return
    start = target[0] if target is not None else out[0][0]
    del out[:n]
    bisect.insort(eng.replies, [ts, ts - start])
    del eng.replies[:-cap]


def fold_milestone(state: AccountState, event: MilestoneEvent, rules: Rules, ts: float) -> bool:
    """The latest event per milestone wins; False for an older one."""
    _note_clock(state, ts)
    milestones = state.engagement.milestones
    key = f"{event.plan_id}{_SEP}{event.milestone_id}"
    old = milestones.get(key)
    if old is not None and ts < old[0]:
        return False
    milestones[key] = [
        ts,
        event.status,
        epoch_day(event.due_date.isoformat()),
        event.phase,
        event.title[:_TITLE_CHARS],
        event.owner,
        event.plan_id,
        event.milestone_id,
    ]
    cap = rules.retention.max_milestones
    if len(milestones) > cap:
        # Done milestones go first (the earliest due), then the least recently updated.
        order = sorted(
            milestones.items(),
            key=lambda kv: (kv[1][1] != "done", kv[1][2] if kv[1][1] == "done" else kv[1][0]),
        )
        for drop, _ in order[: len(milestones) - cap]:
            del milestones[drop]
    return True


def note_first_use(state: AccountState, feature: str, ts: float, plan: Plan) -> bool:
    """Record the first use of a first-value feature; True when it changed."""
    first_use = state.engagement.first_use
    previous = first_use.get(feature)
    if previous is None:
        if feature not in plan.value_features:
            return False
    elif ts >= previous:
        return False
    first_use[feature] = ts
    state.engagement.value_cache = None
    return True


def prune_engagement(state: AccountState, rules: Rules, now: float) -> None:
    """Bounded anyway; this drops what no metric reads any more."""
    eng = state.engagement
    if eng.replies:
        cutoff = now - rules.health.engagement.window.total_seconds()
        eng.replies = [r for r in eng.replies if r[0] >= cutoff]
    if eng.milestones:
        old = now - YEAR
        for key in [k for k, m in eng.milestones.items() if m[1] == "done" and m[0] < old]:
            del eng.milestones[key]


# --- what an evaluation reads -------------------------------------------------------------


class EngagementView:
    """The engagement facts of one evaluation (days are epoch days)."""

    __slots__ = (
        "today",
        "has_activity",
        "last_touch",
        "last_in",
        "last_checkin",
        "next_checkin_day",
        "open_outreach",
        "replies",
        "qbrs_365d",
        "last_qbr",
        "qbr_due_day",
        "booked_day",
        "milestones_open",
        "overdue",
        "contract_day",
        "first_value_at",
        "value_used",
    )

    def __init__(self, today: int) -> None:
        self.today = today
        self.has_activity = False
        self.last_touch: float | None = None
        self.last_in: float | None = None
        self.last_checkin: float | None = None
        self.next_checkin_day: int | None = None
        self.open_outreach: list[list[Any]] = []  # oldest first
        self.replies: list[list[float]] = []  # in the engagement window
        self.qbrs_365d = 0
        self.last_qbr: float | None = None
        self.qbr_due_day: int | None = None
        self.booked_day: int | None = None
        self.milestones_open: int | None = None  # None: no milestone data
        self.overdue: list[list[Any]] = []  # milestone entries past due, not done
        self.contract_day: int | None = None
        self.first_value_at: float | None = None
        self.value_used: list[str] = []  # first-value features used so far


def engagement_view(state: AccountState, now: float, plan: Plan) -> EngagementView:
    eng = state.engagement
    today = int(now // DAY)
    view = EngagementView(today)
    start = state.facts.get("contract_start")
    view.contract_day = epoch_day(start) if start is not None else None
    first_at = eng.first_at
    if first_at is not None:
        view.has_activity = True
        touches = eng.last_out
        view.last_touch = max(touches.values()) if touches else None
        view.last_in = eng.last_in
        checkin = max((touches[k] for k in plan.checkin_kinds if k in touches), default=None)
        view.last_checkin = checkin
        anchor = checkin if checkin is not None else first_at
        view.next_checkin_day = int(anchor // DAY) + plan.checkin_days
        view.open_outreach = [e for e in eng.outreach if e[0] <= now]
        window_start = now - plan.engagement_window
        view.replies = [r for r in eng.replies if window_start <= r[0] <= now]
        held = [q for q in eng.qbrs if q <= now]
        view.last_qbr = held[-1] if held else None
        view.qbrs_365d = sum(1 for q in held if q >= now - YEAR)
        every = plan.qbr_days
        if every is not None:
            if view.last_qbr is not None:
                view.qbr_due_day = int(view.last_qbr // DAY) + every
            else:
                first_day = int(first_at // DAY)
                contract = view.contract_day
                if contract is None:
                    view.qbr_due_day = first_day + every
                else:
                    # The first contract-cycle date on or after the first activity event.
                    cycles = max(1, math.ceil((first_day - contract) / every))
                    view.qbr_due_day = contract + cycles * every
        booked = eng.qbr_booked
        if booked is not None and booked[1] <= now:
            booked_day = int(booked[0] // DAY)
            if today <= booked_day + plan.booking_grace_days:
                view.booked_day = booked_day
    if eng.milestones:
        open_count = 0
        overdue = []
        for entry in eng.milestones.values():
            if entry[1] != "done":
                open_count += 1
                if entry[2] < today:
                    overdue.append(entry)
        view.milestones_open = open_count
        overdue.sort(key=lambda e: (e[2], e[6], e[7]))
        view.overdue = overdue
    if eng.first_use:
        # Folded first uses are never later than an evaluation (time does not go back).
        cache = eng.value_cache
        if cache is None or cache[0] is not plan:
            first_use = eng.first_use
            times = sorted((first_use[f], f) for f in plan.first_value_features if f in first_use)
            reached = (
                times[plan.first_value_min - 1][0] if len(times) >= plan.first_value_min else None
            )
            cache = eng.value_cache = (plan, reached, sorted(f for _, f in times))
        view.first_value_at = cache[1]
        view.value_used = cache[2]
    return view


def engagement_metrics(view: EngagementView, now: float, plan: Plan, m: dict[str, Any]) -> None:
    """Fill the engagement metrics of METRICS (left None without data)."""
    today = view.today
    if view.has_activity:
        if view.last_touch is not None:
            m["days_since_last_touch"] = max(0, int((now - view.last_touch) // DAY))
        if view.last_in is not None:
            m["days_since_last_inbound"] = max(0, int((now - view.last_in) // DAY))
        if view.next_checkin_day is not None:
            m["days_to_next_touch"] = view.next_checkin_day - today
        outreach = view.open_outreach
        m["open_outreach"] = len(outreach)
        if outreach:
            m["open_outreach_days"] = max(0, int((now - outreach[0][0]) // DAY))
        replies = view.replies
        if replies:
            latencies = sorted(r[1] for r in replies)
            mid = len(latencies) // 2
            median = (
                latencies[mid] if len(latencies) % 2 else (latencies[mid - 1] + latencies[mid]) / 2
            )
            m["median_reply_hours"] = round(median / 3600, 1)
            on_time = sum(1 for x in latencies if x <= plan.responsive_within)
            m["replies_on_time_ratio"] = on_time / len(latencies)
        m["qbrs_held_365d"] = view.qbrs_365d
        if view.qbr_due_day is not None:
            m["days_to_qbr_due"] = view.qbr_due_day - today
        if view.booked_day is not None:
            m["days_to_booked_qbr"] = view.booked_day - today
    if view.milestones_open is not None:
        m["milestones_open"] = view.milestones_open
        m["milestones_overdue"] = len(view.overdue)
    if view.first_value_at is not None and view.contract_day is not None:
        m["days_to_first_value"] = max(0, int(view.first_value_at // DAY) - view.contract_day)


def quiet_candidates(state: AccountState, now: float, plan: Plan, cands: list[float]) -> None:
    """Instants after which an evaluation reading engagement may differ (engine._quiet_until).

    Everything counted in dates (next check-in, QBR due and booked dates, milestones past due,
    days since contract start) changes only at the end of a day, which ends every quiet anyway.
    What is counted from an instant: whole days since the last touch, the last inbound
    activity and the oldest outreach awaiting a reply (the responsiveness grade and
    customer_unresponsive read those whole days); a reply leaving the engagement window; a QBR
    leaving the last 365 days.
    """
    eng = state.engagement
    if eng.first_at is None:
        return
    refs = []
    if eng.last_out:
        refs.append(max(eng.last_out.values()))
    if eng.last_in is not None:
        refs.append(eng.last_in)
    if eng.outreach:
        refs.append(eng.outreach[0][0])
    for ref in refs:
        if ref > now:
            cands.append(ref)
        else:
            cands.append(ref + (int((now - ref) // DAY) + 1) * DAY)
    window = plan.engagement_window
    for entry in eng.replies:
        cands.append(entry[0])
        cands.append(entry[0] + window)
    for held in eng.qbrs:
        cands.append(held)
        cands.append(held + YEAR)
    booked = eng.qbr_booked
    if booked is not None:
        cands.append(booked[1])


def iso_time(ts: float | None) -> str | None:
    return None if ts is None else to_dt(ts).isoformat()


def iso_date(ts: float | None) -> str | None:
    return None if ts is None else day_iso(int(ts // DAY))


def milestone_evidence(entry: list[Any], today: int) -> dict[str, Any]:
    return {
        "plan_id": entry[6],
        "milestone_id": entry[7],
        "title": entry[4],
        "phase": entry[3],
        "owner": entry[5],
        "due_date": day_iso(entry[2]),
        "status": entry[1],
        "days_overdue": today - entry[2],
    }
