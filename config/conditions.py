"""Conditions of user-defined playbooks: `metric OP number [and ...]` over the metrics of
config/metrics_catalogue.py."""

from __future__ import annotations

import re

from config.metrics_catalogue import METRICS
from config.rules_base import _Strict

OPERATORS = (">=", "<=", "==", "!=", ">", "<")

_CLAUSE_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")
_AND_RE = re.compile(r"\s+and\s+", re.IGNORECASE)
_OP_RE = re.compile(r"^\s*([a-z_][a-z0-9_]*)\s*(\S+)\s*(.*)$")


class Clause(_Strict):
    metric: str
    op: str
    value: float


def parse_condition(text: str) -> tuple[list[Clause], list[str]]:
    """Parse `metric OP number [and ...]`; returns the clauses and the problems found."""
    clauses: list[Clause] = []
    problems: list[str] = []
    if not text or not text.strip():
        return [], ["empty condition; valid: `metric OP number` clauses joined by `and`"]
    for part in _AND_RE.split(text.strip()):
        match = _CLAUSE_RE.match(part)
        if match is None:
            loose = _OP_RE.match(part)
            if loose and loose.group(2) not in OPERATORS and loose.group(1) in METRICS:
                problems.append(
                    f"bad operator {loose.group(2)!r} in {part.strip()!r}; "
                    f"valid: one of {', '.join(OPERATORS)}"
                )
            else:
                problems.append(
                    f"cannot parse clause {part.strip()!r}; valid: `metric OP number` "
                    f"with OP one of {', '.join(OPERATORS)}, clauses joined by `and`"
                )
            continue
        metric, op, number = match.groups()
        if metric not in METRICS:
            problems.append(
                f"unknown metric {metric!r}; valid: one of {', '.join(sorted(METRICS))}"
            )
            continue
        clauses.append(Clause(metric=metric, op=op, value=float(number)))
    return clauses, problems
