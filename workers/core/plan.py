"""Per-rules constants of the evaluation, derived once per (segment-resolved) `Rules` object
instead of at every hourly boundary: window lengths in seconds, playbook lookups."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from .state import DAY

if TYPE_CHECKING:
    from config.rules import CompiledPlaybook, Rules


K = TypeVar("K")
V = TypeVar("V")


class Plan:
    __slots__ = (
        "rules",
        "adoption_days",
        "core_features",
        "n_core",
        "esc_window",
        "nps_window",
        "by_id",
        "critical_steps",
        "timed",
        "reads_urgent_age",
    )

    def __init__(self, rules: Rules) -> None:
        self.rules = rules  # keeps the id used as the cache key alive
        health = rules.health
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
        # A condition on the (continuously growing) urgent ticket age can flip at any time.
        self.reads_urgent_age = any(
            c.metric == "oldest_urgent_ticket_age_hours"
            for pb in compiled.playbooks
            for c in pb.condition + (pb.resolve_when or [])
        )


def cached_by_identity(cache: dict[int, tuple[K, V]], source: K, build: Callable[[K], V]) -> V:
    """`build(source)` once per source object (rules are frozen; a reloaded file is a new
    object). The entry keeps `source` alive so its id cannot be reused while cached."""
    entry = cache.get(id(source))
    if entry is None or entry[0] is not source:
        if len(cache) > 256:
            cache.clear()
        entry = cache[id(source)] = (source, build(source))
    return entry[1]


_PLANS: dict[int, tuple[Rules, Plan]] = {}


def plan_for(rules: Rules) -> Plan:
    return cached_by_identity(_PLANS, rules, Plan)
