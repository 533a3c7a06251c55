"""The rules compiled for the engine: each enabled playbook with its kind, typed params and
parsed conditions, in evaluation order."""

from __future__ import annotations

from typing import Any

from config.conditions import parse_condition
from config.rules_base import CONDITION_KIND
from config.rules_model import (
    BUILTIN_KINDS,
    KIND_PARAMS,
    ConditionParams,
    PlaybookRule,
    playbook_kind,
)


class CompiledPlaybook:
    """A playbook ready for the engine: its kind, typed params and parsed conditions."""

    __slots__ = ("id", "rule", "kind", "params", "condition", "resolve_when", "order")

    def __init__(self, pid: str, rule: PlaybookRule, order: int) -> None:
        self.id = pid
        self.rule = rule
        self.kind = playbook_kind(pid, rule) or CONDITION_KIND
        self.order = order
        params_model = KIND_PARAMS.get(self.kind, ConditionParams)
        self.params: Any = params_model.model_validate(rule.params)
        self.condition = parse_condition(rule.condition)[0] if rule.condition else []
        self.resolve_when = parse_condition(rule.resolve_when)[0] if rule.resolve_when else None


class CompiledRules:
    __slots__ = ("playbooks", "by_kind", "engine_plan")

    def __init__(self, playbooks: list[CompiledPlaybook]) -> None:
        self.playbooks = playbooks
        # The engine's constants derived from these rules (workers/core/plan.py), built on its
        # first evaluation and kept here: one compiled object per Rules, no cache beside it.
        self.engine_plan: Any = None
        self.by_kind: dict[str, list[CompiledPlaybook]] = {}
        for pb in playbooks:
            self.by_kind.setdefault(pb.kind, []).append(pb)


def compile_rules(playbooks: dict[str, PlaybookRule]) -> CompiledRules:
    # Built-in kinds run in catalogue order (health_at_risk before health_critical, so an
    # at-risk task escalates before a critical one could open), user-defined ones after.
    kind_order = {kind: i for i, kind in enumerate(BUILTIN_KINDS)}
    items = [
        CompiledPlaybook(pid, rule, i)
        for i, (pid, rule) in enumerate(playbooks.items())
        if rule.enabled
    ]
    items.sort(key=lambda pb: (kind_order.get(pb.kind, len(kind_order)), pb.order))
    return CompiledRules(items)
