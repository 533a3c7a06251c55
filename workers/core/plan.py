"""Per-rules constants of the evaluation, derived once per (segment-resolved) `Rules` object
instead of at every hourly boundary: window lengths in seconds, playbook lookups, the health
scoring constants. Built on first use and kept on the rules' own compiled form
(`rules.compiled.engine_plan`): one place, no cache keyed by object identity beside it."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .days import DAY
from .health import HealthPlan

if TYPE_CHECKING:
    from config.rules import CompiledPlaybook, Rules


class Plan:
    __slots__ = (
        "adoption_days",
        "core_features",
        "n_core",
        "esc_window",
        "nps_window",
        "by_id",
        "critical_steps",
        "timed",
        "reads_urgent_age",
        "health",
        "checkin_kinds",
        "checkin_days",
        "qbr_days",
        "booking_grace_days",
        "engagement_window",
        "responsive_within",
        "first_value_features",
        "first_value_min",
        "value_features",
    )

    def __init__(self, rules: Rules) -> None:
        health = rules.health
        self.health = HealthPlan(health)
        self.adoption_days = max(1, int(health.adoption.window.total_seconds() // DAY))
        self.core_features = tuple(health.core_features)
        self.n_core = len(self.core_features)
        self.esc_window = health.support.window.total_seconds()
        self.nps_window = health.satisfaction.window.total_seconds()
        compiled = rules.compiled
        self.by_id: dict[str, CompiledPlaybook] = {pb.id: pb for pb in compiled.playbooks}
        self.critical_steps: dict[str, list[str]] = {}
        for pb in compiled.by_kind.get("health_critical", [])[:1]:
            self.critical_steps["health_at_risk"] = list(pb.rule.steps)
        # (playbook id, kind, cool-down seconds, resolve-after seconds or None): the
        # time thresholds of task state that engine._quiet_until has to watch.
        self.timed: list[tuple[str, str, float, float | None]] = []
        for pb in compiled.playbooks:
            threshold = None
            if pb.kind == "nps_detractor":
                threshold = pb.params.resolve_after.total_seconds()
            elif pb.kind in ("health_at_risk", "health_critical"):
                threshold = pb.params.resolve_weeks * 7 * DAY
            self.timed.append((pb.id, pb.kind, pb.rule.cooldown.total_seconds(), threshold))
        # Engagement (workers/core/engagement.py): cadences in whole days (due dates are dates).
        engagement = rules.engagement
        self.checkin_kinds = tuple(engagement.checkin_kinds)
        self.checkin_days = max(1, math.ceil(engagement.checkin_every.total_seconds() / DAY))
        every = engagement.qbr_every
        self.qbr_days = None if every is None else max(1, math.ceil(every.total_seconds() / DAY))
        self.booking_grace_days = engagement.booking_grace_days
        self.engagement_window = health.engagement.window.total_seconds()
        self.responsive_within = health.engagement.responsive_within_days * DAY
        # First value: the first use of these features (onboarding_stalled's params, else the
        # core features), at least `first_value_min` of them. Folding records the first use of
        # every feature in `value_features`.
        onboarding = compiled.by_kind.get("onboarding_stalled", [])
        params = onboarding[0].params if onboarding else None
        features = (params.first_value_features if params else None) or health.core_features
        self.first_value_features = tuple(dict.fromkeys(features))
        wanted = params.first_value_min_features if params else None
        self.first_value_min = min(len(self.first_value_features), wanted or 10**9)
        self.value_features = frozenset(self.first_value_features) | frozenset(health.core_features)
        # A condition on the (continuously growing) urgent ticket age can flip at any time.
        self.reads_urgent_age = any(
            c.metric == "oldest_urgent_ticket_age_hours"
            for pb in compiled.playbooks
            for c in pb.condition + (pb.resolve_when or [])
        )


def plan_for(rules: Rules) -> Plan:
    compiled = rules.compiled
    plan = compiled.engine_plan
    if plan is None:
        plan = compiled.engine_plan = Plan(rules)
    return plan
