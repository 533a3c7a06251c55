"""Folding one inbound event into an account's state (no evaluation here).

`fold_usage` is the hot path: one user-record lookup, a few dict updates, and a record write
only on a user's first activity of a day. Pruning happens once per event-time day (`prune`),
not per event.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from config.rules import DedupRules, Rules
from events.models import AccountEvent, AnyInbound, NpsEvent, TicketEvent, UsageEvent

from .dedup import forget_before, remember
from .engagement import note_first_use, prune_engagement
from .plan import plan_for
from .state import DAY, AccountState, Ticket, to_dt
from .usage import note_feature, note_user_day, prune_usage
from .users import MASK_DAYS, UserRecord, active_between

OPEN_STATUSES = frozenset({"opened", "updated", "escalated"})
CLOSED_STATUSES = frozenset({"resolved", "closed"})
HIGH_PRIORITIES = frozenset({"high", "urgent"})


def remember_event(state: AccountState, event: AnyInbound, ts: float, dedup: DedupRules) -> bool:
    """Record the event's id; False when it was already seen (a redelivery). See dedup.py
    for what is remembered how long."""
    if isinstance(event, UsageEvent):
        return remember(state.seen, event.event_id, ts, True, dedup.max_event_ids)
    return remember(state.seen, event.event_id, ts, False, dedup.max_other_event_ids)


def _note_time(state: AccountState, ts: float) -> None:
    if state.first_seen is None or ts < state.first_seen:
        state.first_seen = ts
    if state.clock is None or ts > state.clock:
        state.clock = ts


def fold_usage(state: AccountState, event: UsageEvent, rules: Rules, ts: float) -> bool:
    """Count the event in the usage aggregates; False when it is too old for any window."""
    day = int(ts // DAY)
    clock = state.clock
    if clock is not None and day < int(clock // DAY) - rules.retention.usage_days:
        return False
    _note_time(state, ts)
    usage = state.usage
    volume = usage.volume
    first_of_day = day not in volume
    volume[day] = volume.get(day, 0) + event.quantity
    note_feature(usage.features, event.feature, day)
    seen = state.engagement.first_use.get(event.feature)
    if (seen is None or ts < seen) and note_first_use(state, event.feature, ts, plan_for(rules)):
        state.quiet = None  # first value may have been reached: evaluations differ now
    user = event.user_id
    if user == state.facts.get("champion_user_id") and (
        state.champion_last_active is None or ts > state.champion_last_active
    ):
        state.champion_last_active = ts
    users = state.users
    record = users.get(user)
    if record is None or not _already_known(record, day, ts):
        # The user's first activity of this day (or an earlier one of their last day).
        book = state.book
        newest = usage.newest
        if book is not None:
            book.note(day, not active_between(record, day, day), first_of_day)
        note_user_day(usage, users, user, record, day, ts)
        if book is not None and newest is not None and day > newest:
            # The account's first event of a new day: whether it was in a dip the day before.
            peers = rules.book_baseline
            book.note_peer(usage, day - 1, peers.peer_dip_below, peers.peer_min_users)
    elif first_of_day and state.book is not None:
        state.book.note(day, False, True)
    cache = state.usage_cache
    if cache is not None and day < cache[0]:
        # A late event changed a completed day the cached aggregates were built from.
        state.usage_cache = None
    return True


def _already_known(record: UserRecord, day: int, ts: float) -> bool:
    """The hot-path test: the record already has `day`, and `ts` is no earlier first
    activity of the user's last day (the only other change a same-day event can make)."""
    back = int(record.last_active // DAY) - day
    if back == 0:
        return ts >= record.last_active
    return 0 < back < MASK_DAYS and (record.mask >> back) & 1 == 1


@dataclass
class TicketChange:
    ticket_id: str
    applied: bool
    escalated_now: bool = False  # this event escalated the ticket
    urgent_opened: bool = False  # this event opened an urgent ticket
    closed: bool = False


def fold_ticket(state: AccountState, event: TicketEvent, rules: Rules, ts: float) -> TicketChange:
    _note_time(state, ts)
    tid = event.ticket_id
    change = TicketChange(tid, applied=False)
    closed_at = state.closed_tickets.get(tid)
    if closed_at is not None and ts <= closed_at:
        return change  # a late event for a ticket already closed
    ticket = state.tickets.get(tid)
    if ticket is not None and ts < ticket.updated_at:
        # Out of order: an older status must not overwrite a newer one. A late escalation
        # still counts as an escalation in the window.
        if event.status == "escalated":
            _add_escalation(state, ts, tid)
            ticket.escalated = True
            change.applied = True
        return change
    change.applied = True
    if event.status in CLOSED_STATUSES:
        if ticket is not None:
            del state.tickets[tid]
        tombstones = state.closed_tickets
        tombstones[tid] = ts
        cap = rules.retention.max_closed_tickets
        if len(tombstones) > cap + (cap >> 2):
            _cap_tombstones(state, cap)
        change.closed = True
        return change
    change.urgent_opened = event.status == "opened" and event.priority == "urgent"
    if ticket is None:
        ticket = state.tickets[tid] = Ticket(event.priority, event.status, ts, ts)
    else:
        ticket.priority = event.priority
        ticket.status = event.status
        ticket.updated_at = ts
    if event.status == "escalated":
        change.escalated_now = True
        ticket.escalated = True
        _add_escalation(state, ts, tid)
    return change


def _cap_tombstones(state: AccountState, cap: int) -> None:
    """Keep the `cap` most recently closed tickets' tombstones. A late event of a ticket whose
    tombstone was dropped is folded as if the ticket were unknown."""
    newest = sorted(state.closed_tickets.items(), key=lambda kv: (kv[1], kv[0]))[-cap:]
    state.closed_tickets = dict(newest)


def _add_escalation(state: AccountState, ts: float, tid: str) -> None:
    entry = [ts, tid]
    if entry not in state.escalations:
        bisect.insort(state.escalations, entry)


def fold_nps(state: AccountState, event: NpsEvent, rules: Rules, ts: float) -> bool:
    """Record the response; False when it is older than the NPS window."""
    clock = state.clock
    if clock is not None and ts < clock - rules.retention.nps_days * DAY:
        return False
    _note_time(state, ts)
    nps = state.nps
    bisect.insort(nps, [ts, event.score, event.event_id])
    # The newest responses only: the latest one is what satisfaction and the detractor
    # playbook read.
    del nps[: -rules.retention.max_nps_responses]
    return True


@dataclass
class AccountChange:
    changed: dict[str, tuple[object, object]]  # field -> (old, new)


def fold_account(state: AccountState, event: AccountEvent, ts: float) -> AccountChange:
    _note_time(state, ts)
    facts = state.facts
    changed: dict[str, tuple[object, object]] = {}
    for name, value in event.present_facts().items():
        stored = value.isoformat() if hasattr(value, "isoformat") else value
        old = facts.get(name)
        if old != stored:
            changed[name] = (old, stored)
            facts[name] = stored
    if "status" in changed:
        # When it changed, for the resolution of a churned account's tasks.
        facts["status_changed_on"] = to_dt(ts).date().isoformat()
    if "champion_user_id" in changed:
        champion = facts.get("champion_user_id")
        # A new champion's engagement is measured from their own last activity, or from the
        # moment they became champion when we have never seen them active.
        state.champion_since = ts
        record = state.users.get(champion) if champion is not None else None
        since = state.users_since
        state.champion_last_active = (
            record.last_active
            if record is not None and (since is None or record.last_active >= since)
            else None
        )
    return AccountChange(changed)


def prune(state: AccountState, rules: Rules, now: float) -> None:
    """Drop what no window needs any more; runs at most once per event-time day."""
    today = int(now // DAY)
    if state.pruned_day == today:
        return
    state.pruned_day = today
    ret = rules.retention
    prune_usage(state.usage, today - ret.usage_days)
    # User records stay in their store (nothing to iterate there); those older than this are
    # treated as unknown (see fold_account).
    state.users_since = now - ret.user_last_active_days * DAY
    esc_cutoff = now - ret.escalation_days * DAY
    state.escalations = [e for e in state.escalations if e[0] >= esc_cutoff]
    nps_cutoff = now - ret.nps_days * DAY
    state.nps = [n for n in state.nps if n[0] >= nps_cutoff][-ret.max_nps_responses :]
    tomb_cutoff = now - ret.usage_days * DAY
    state.closed_tickets = {k: t for k, t in state.closed_tickets.items() if t >= tomb_cutoff}
    if len(state.closed_tickets) > ret.max_closed_tickets:
        _cap_tombstones(state, ret.max_closed_tickets)
    dedup = rules.dedup
    forget_before(state.seen.usage, now - dedup.usage_window.total_seconds())
    forget_before(state.seen.other, now - dedup.other_window.total_seconds())
    prune_engagement(state, rules, now)
