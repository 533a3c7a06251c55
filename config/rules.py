"""The rules file: health model, trigger catalogue, playbooks and per-segment overrides.

`load_rules` returns a validated `Rules` or raises `RulesError` with one human message per
problem (`<file>: <field.path>: <problem>; valid: <what would be valid>`), so a bad file stops
a worker at start with something an operator can act on. `check_rules_file` returns the same
messages without raising (the `check-config` command).

This module is the entry: the root document `Rules`, its per-segment resolution and the
loading. The parts live beside it: config/rules_model.py (the sections), config/durations.py,
config/conditions.py, config/compiled.py (what the engine runs), config/rules_errors.py and
config/rules_checks.py (the messages and the semantic checks).
"""

from __future__ import annotations

import copy
import re
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from config.compiled import CompiledPlaybook, CompiledRules, compile_rules
from config.conditions import Clause, parse_condition
from config.durations import parse_duration
from config.rules_base import COMPONENTS, PRIORITY_RANK, SegmentName, _Strict
from config.rules_checks import semantic_errors
from config.rules_errors import RulesError, format_problem, pydantic_messages
from config.rules_model import (
    BookBaselineRules,
    DedupRules,
    EngagementRules,
    EvaluationRules,
    HealthRules,
    PlaybookRule,
    RetentionRules,
    SegmentOverride,
)

# The names other code imports from here.
__all__ = [
    "COMPONENTS",
    "DEFAULT_RULES_PATH",
    "PRIORITY_RANK",
    "Clause",
    "CompiledPlaybook",
    "CompiledRules",
    "HealthRules",
    "Rules",
    "RulesError",
    "build_rules",
    "check_rules_file",
    "load_rules",
    "parse_condition",
    "parse_duration",
]

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")


class Rules(_Strict):
    version: Literal[1] = 1
    evaluation: EvaluationRules = EvaluationRules()
    dedup: DedupRules = DedupRules()
    retention: RetentionRules = RetentionRules()
    health: HealthRules = HealthRules()
    engagement: EngagementRules = EngagementRules()
    book_baseline: BookBaselineRules = BookBaselineRules()
    playbooks: dict[str, PlaybookRule]
    segments: dict[SegmentName, SegmentOverride] = Field(default_factory=dict)

    def for_segment(self, segment: str | None) -> Rules:
        """The rules with the segment's overrides applied (validated when the file loaded)."""
        if segment is None:
            return self
        return self.resolved_segments.get(segment, self)

    @cached_property
    def resolved_segments(self) -> dict[str, Rules]:
        resolved, errors = _resolve_segments(self, "<rules>")
        if errors:
            raise RulesError(errors)
        return resolved

    @cached_property
    def interval_seconds(self) -> float:
        return self.evaluation.interval.total_seconds()

    @cached_property
    def compiled(self) -> CompiledRules:
        return compile_rules(self.playbooks)


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(override)


def _resolve_segments(rules: Rules, source: str) -> tuple[dict[str, Rules], list[str]]:
    base = rules.model_dump(mode="python", exclude={"segments"})
    resolved: dict[str, Rules] = {}
    errors: list[str] = []
    for seg, override in rules.segments.items():
        prefix = f"segments.{seg}."
        unknown = [pid for pid in override.playbooks if pid not in rules.playbooks]
        for pid in unknown:
            errors.append(
                format_problem(
                    source,
                    f"{prefix}playbooks.{pid}",
                    f"overrides unknown playbook {pid!r}",
                    "one of " + ", ".join(rules.playbooks),
                )
            )
        if unknown:
            continue
        doc = _merge(
            base,
            {
                "health": override.health,
                "engagement": override.engagement,
                "playbooks": override.playbooks,
            },
        )
        try:
            merged = Rules.model_validate(doc)
        except ValidationError as err:
            errors.extend(pydantic_messages(err, source, Rules, prefix=prefix))
            continue
        seg_errors = semantic_errors(merged.health, merged.playbooks, source, prefix=prefix)
        errors.extend(seg_errors)
        if not seg_errors:
            resolved[seg] = merged
    return resolved, errors


def build_rules(data: Any, source: str = "<rules>") -> Rules:
    """Validate a rules document (already parsed YAML); raises RulesError."""
    rules, errors = _build(data, source)
    if errors or rules is None:
        raise RulesError(errors)
    return rules


def _unprefixed(message: str, source: str) -> str:
    return re.sub(rf"^{re.escape(source)}: segments\.[a-z_]+\.", f"{source}: ", message)


def _build(data: Any, source: str) -> tuple[Rules | None, list[str]]:
    if not isinstance(data, dict):
        return None, [
            format_problem(source, "(top level)", "not a mapping", "a YAML mapping of sections")
        ]
    try:
        rules = Rules.model_validate(data)
    except ValidationError as err:
        return None, pydantic_messages(err, source, Rules)
    errors = semantic_errors(rules.health, rules.playbooks, source)
    resolved, seg_errors = _resolve_segments(rules, source)
    # A base problem shows up again in every merged segment; report it once.
    errors += [e for e in seg_errors if _unprefixed(e, source) not in errors]
    if errors:
        return None, errors
    rules.__dict__["resolved_segments"] = resolved  # prime the cached_property
    return rules, []


def _read(path: Path) -> tuple[Any, list[str]]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        return None, [format_problem(source, "(file)", f"cannot read: {err.strerror or err}")]
    try:
        return yaml.safe_load(text), []
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(file)"
        problem = getattr(err, "problem", None) or str(err)
        return None, [format_problem(source, where, f"invalid YAML: {problem}", "well-formed YAML")]


def load_rules(path: str | Path | None = None) -> Rules:
    """Load and validate the rules file (None: the bundled config/rules.yaml)."""
    p = Path(path) if path is not None else DEFAULT_RULES_PATH
    data, errors = _read(p)
    if errors:
        raise RulesError(errors)
    return build_rules(data, str(p))


def check_rules_file(path: str | Path | None = None) -> list[str]:
    """Every problem in the rules file as a human message; empty when the file is valid.

    None checks the bundled config/rules.yaml."""
    p = Path(path) if path is not None else DEFAULT_RULES_PATH
    data, errors = _read(p)
    if errors:
        return errors
    return _build(data, str(p))[1]
