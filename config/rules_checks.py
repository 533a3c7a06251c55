"""Semantic checks of a rules document that the field types alone cannot express: band
order, known playbook kinds, conditions only where they belong, each kind's params."""

from __future__ import annotations

from pydantic import ValidationError

from config.conditions import parse_condition
from config.rules_base import CONDITION_KIND
from config.rules_errors import format_problem, pydantic_messages
from config.rules_model import (
    BUILTIN_KINDS,
    KIND_PARAMS,
    HealthRules,
    PlaybookRule,
    playbook_kind,
)


def semantic_errors(
    health: HealthRules, playbooks: dict[str, PlaybookRule], source: str, prefix: str = ""
) -> list[str]:
    errors: list[str] = []
    for name in ("usage", "adoption"):
        bands = getattr(health, name)
        if bands.at_risk_at_least > bands.good_at_least:
            errors.append(
                format_problem(
                    source,
                    f"{prefix}health.{name}",
                    "at_risk_at_least is above good_at_least",
                    "at_risk_at_least <= good_at_least",
                )
            )
    b = health.bands
    if not (20 <= b.at_risk <= b.healthy <= b.champion <= 100):
        errors.append(
            format_problem(
                source,
                f"{prefix}health.bands",
                "band edges out of order",
                "20 <= at_risk <= healthy <= champion <= 100",
            )
        )
    for pid, rule in playbooks.items():
        path = f"{prefix}playbooks.{pid}"
        kind = playbook_kind(pid, rule)
        if kind is None or (kind not in KIND_PARAMS and kind != CONDITION_KIND):
            errors.append(
                format_problem(
                    source,
                    f"{path}.kind" if rule.kind else path,
                    f"unknown playbook kind {kind or pid!r}",
                    f"one of {', '.join(BUILTIN_KINDS)}, or a user-defined playbook with "
                    "a `condition`",
                )
            )
            continue
        if kind == CONDITION_KIND:
            if not rule.condition:
                errors.append(
                    format_problem(
                        source, f"{path}.condition", "required for a condition playbook", None
                    )
                )
            for fname in ("condition", "resolve_when"):
                text = getattr(rule, fname)
                if text is not None:
                    errors.extend(
                        format_problem(source, f"{path}.{fname}", p)
                        for p in parse_condition(text)[1]
                    )
            if rule.params:
                errors.append(
                    format_problem(
                        source,
                        f"{path}.params",
                        "a condition playbook takes no params",
                        "put thresholds in `condition`",
                    )
                )
        else:
            for fname in ("condition", "resolve_when"):
                if getattr(rule, fname) is not None:
                    errors.append(
                        format_problem(
                            source,
                            f"{path}.{fname}",
                            f"not allowed on built-in kind {kind!r}",
                            "tune `params` instead, or define a playbook without `kind`",
                        )
                    )
            try:
                KIND_PARAMS[kind].model_validate(rule.params)
            except ValidationError as err:
                errors.extend(
                    pydantic_messages(err, source, KIND_PARAMS[kind], prefix=f"{path}.params.")
                )
    return errors
