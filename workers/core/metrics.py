"""Derived metrics of an account at an evaluation time, and their public catalogue.

Usage windows are whole event-time UTC days completed before the evaluation time: the 7-day
window evaluated on day D covers days D-7..D-1. A partial current day would make every early
morning look like a usage drop; whole days also mean the usage metrics are computed once per
day per account (cached on the state) instead of at every hourly boundary. The distinct-user
counts are exact (usage.py).

A metric is None when there is no data for it; a condition on a None metric does not hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config.metrics_catalogue import METRICS

from .days import epoch_day
from .engagement import EngagementView, engagement_metrics, engagement_view
from .guards import last_usual_week
from .plan import plan_for
from .state import DAY, AccountState
from .usage import MONTH, WEEK, features_between, users_in_window, volume_between

if TYPE_CHECKING:
    from config.rules import Rules

USAGE_WINDOW_DAYS = WEEK


def _usage_aggregates(
    state: AccountState, today: int, adoption_days: int, retained_days: int
) -> tuple[Any, ...]:
    """(today, adoption_days, active 7d, active prev 7d, active 30d, volume 7d, features):
    computed once per day and account, as only completed days are read."""
    cache = state.usage_cache
    if cache is not None and cache[0] == today and cache[1] == adoption_days:
        return cache
    usage = state.usage
    yesterday = today - 1
    # Features of days older than the retained usage days are as good as pruned.
    first_feature_day = max(today - adoption_days, today - retained_days)
    cache = (
        today,
        adoption_days,
        users_in_window(usage, yesterday, WEEK),
        users_in_window(usage, yesterday - WEEK, WEEK),
        users_in_window(usage, yesterday, MONTH),
        volume_between(usage, today - USAGE_WINDOW_DAYS, yesterday),
        features_between(usage, first_feature_day, yesterday),
    )
    state.usage_cache = cache
    return cache


_BLANK = dict.fromkeys(METRICS)


def compute_metrics(
    state: AccountState, now: float, rules: Rules, engagement: EngagementView | None = None
) -> dict[str, Any]:
    """Every metric in METRICS except health_score (added by the engine after scoring).

    `engagement`: the evaluation's engagement view when the caller already has it."""
    plan = plan_for(rules)
    today = int(now // DAY)
    facts = state.facts
    seats = facts.get("licensed_seats")
    m: dict[str, Any] = _BLANK.copy()
    first_seen = state.first_seen
    if first_seen is not None:
        first_day = int(first_seen // DAY)
        m["observed_days"] = max(0, today - first_day)
        # Usage needs at least one completed observed day, otherwise a brand-new account
        # would look like it has zero users.
        if first_day < today:
            _, _, a7, p7, a30, vol7, features = _usage_aggregates(
                state, today, plan.adoption_days, rules.retention.usage_days
            )
            core = plan.core_features
            core_used = sum(1 for f in core if f in features)
            m["active_users_7d"] = a7
            m["active_users_prev_7d"] = p7
            m["active_users_30d"] = a30
            m["usage_volume_7d"] = vol7
            m["usage_change_7d"] = (a7 - p7) / p7 if p7 else None
            m["active_users_7d_ratio"] = a7 / seats if seats else None
            book = state.book
            baseline = rules.book_baseline
            if book is not None and baseline.enabled:
                level = book.level(today - 1, baseline.min_accounts)
                m["book_level_7d"] = level
                if level is not None and level < baseline.off_week_below:
                    # A week off for the whole book: health judges the last usual week.
                    end = last_usual_week(
                        (book, baseline.min_accounts, baseline.off_week_below), today - 1
                    )
                    if end != today - 1:
                        m["usual_week_active_users"] = users_in_window(state.usage, end, WEEK)
                        m["usual_week_ended_days_ago"] = today - 1 - end
            m["features_used_30d"] = len(features)
            m["core_features_used_30d"] = core_used
            m["adoption_ratio"] = core_used / plan.n_core if core else None

    if facts.get("champion_user_id") is not None:
        ref = state.champion_last_active
        if ref is None:
            ref = state.champion_since
        if ref is not None:
            m["days_since_champion_active"] = max(0, int((now - ref) // DAY))

    tickets = state.tickets
    m["open_tickets"] = len(tickets)
    high = 0
    oldest_urgent = None
    for t in tickets.values():
        priority = t.priority
        if priority == "urgent":
            high += 1
            if oldest_urgent is None or t.opened_at < oldest_urgent:
                oldest_urgent = t.opened_at
        elif priority == "high":
            high += 1
    m["open_high_urgent_tickets"] = high
    escalations = state.escalations
    if escalations:
        esc_from = now - plan.esc_window
        m["escalations_30d"] = sum(1 for e in escalations if esc_from <= e[0] <= now)
    else:
        m["escalations_30d"] = 0
    if oldest_urgent is not None:
        m["oldest_urgent_ticket_age_hours"] = max(0.0, (now - oldest_urgent) / 3600)

    latest = None
    for entry in reversed(state.nps):
        if entry[0] <= now:
            latest = entry
            break
    if latest is not None and latest[0] >= now - plan.nps_window:
        m["latest_nps"] = latest[1]
        m["days_since_last_nps"] = int((now - latest[0]) // DAY)

    # Dates as epoch days: `today` is the UTC day of the evaluation.
    renewal = facts.get("renewal_date")
    if renewal is not None:
        m["days_to_renewal"] = epoch_day(renewal) - today
    start = facts.get("contract_start")
    if start is not None:
        m["days_since_contract_start"] = today - epoch_day(start)
    m["licensed_seats"] = seats
    m["arr"] = facts.get("arr")
    if engagement is None:
        engagement = engagement_view(state, now, plan)
    engagement_metrics(engagement, now, plan, m)
    return m
