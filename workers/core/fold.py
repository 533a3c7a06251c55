"""Folding one inbound event into an account's state (no evaluation here).

`fold_usage` is the hot path: a dict lookup, three set/int updates and nothing else. Pruning
happens once per event-time day (`prune`), not per event.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from config.rules import Rules
from events.models import AccountEvent, NpsEvent, TicketEvent, UsageEvent

from .state import DAY, AccountState, DayBucket, Ticket

OPEN_STATUSES = frozenset({"opened", "updated", "escalated"})
CLOSED_STATUSES = frozenset({"resolved", "closed"})
HIGH_PRIORITIES = frozenset({"high", "urgent"})


def remember_event_id(state: AccountState, event_id: str, max_ids: int) -> bool:
    """Record the id; False when it was already seen (a redelivery).

    At least the newest `max_ids` ids are remembered. Trimming happens in batches (up to a
    quarter over the bound) because evicting from the front of a dict one key at a time gets
    slow: iteration has to skip the deleted slots.
    """
    seen = state.seen_ids
    if event_id in seen:
        return False
    seen[event_id] = None
    if len(seen) > max_ids + (max_ids >> 2):
        state.seen_ids = dict.fromkeys(list(seen)[-max_ids:])
    return True


def _note_time(state: AccountState, ts: float) -> None:
    if state.first_seen is None or ts < state.first_seen:
        state.first_seen = ts
    if state.clock is None or ts > state.clock:
        state.clock = ts


def fold_usage(state: AccountState, event: UsageEvent, rules: Rules, ts: float) -> bool:
    """Count the event in its day bucket; False when it is too old for any window."""
    day = int(ts // DAY)
    clock = state.clock
    if clock is not None and day < int(clock // DAY) - rules.retention.usage_days:
        return False
    _note_time(state, ts)
    bucket = state.days.get(day)
    if bucket is None:
        bucket = state.days[day] = DayBucket()
    user = event.user_id
    bucket.users.add(user)
    bucket.features.add(event.feature)
    bucket.volume += event.quantity
    last = state.user_last_active.get(user)
    if last is None or ts > last:
        state.user_last_active[user] = ts
        if user == state.facts.get("champion_user_id") and (
            state.champion_last_active is None or ts > state.champion_last_active
        ):
            state.champion_last_active = ts
    cache = state.usage_cache
    if cache is not None and day < cache[0]:
        # A late event changed a completed day the cached aggregates were built from.
        state.usage_cache = None
    return True


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
        state.closed_tickets[tid] = ts
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
    bisect.insort(state.nps, [ts, event.score, event.event_id])
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
    if "champion_user_id" in changed:
        champion = facts.get("champion_user_id")
        # A new champion's engagement is measured from their own last activity, or from the
        # moment they became champion when we have never seen them active.
        state.champion_since = ts
        state.champion_last_active = (
            state.user_last_active.get(champion) if champion is not None else None
        )
    return AccountChange(changed)


def prune(state: AccountState, rules: Rules, now: float) -> None:
    """Drop what no window needs any more; runs at most once per event-time day."""
    today = int(now // DAY)
    if state.pruned_day == today:
        return
    state.pruned_day = today
    ret = rules.retention
    oldest_day = today - ret.usage_days
    for day in [d for d in state.days if d < oldest_day]:
        del state.days[day]
    user_cutoff = today - ret.user_days
    for day, bucket in state.days.items():
        if day < user_cutoff and bucket.users:
            bucket.n_users = len(bucket.users)
            bucket.users = set()
    active_cutoff = now - ret.user_last_active_days * DAY
    stale = [u for u, t in state.user_last_active.items() if t < active_cutoff]
    for user in stale:
        del state.user_last_active[user]
    esc_cutoff = now - ret.escalation_days * DAY
    state.escalations = [e for e in state.escalations if e[0] >= esc_cutoff]
    nps_cutoff = now - ret.nps_days * DAY
    state.nps = [n for n in state.nps if n[0] >= nps_cutoff]
    tomb_cutoff = now - ret.usage_days * DAY
    state.closed_tickets = {k: t for k, t in state.closed_tickets.items() if t >= tomb_cutoff}
