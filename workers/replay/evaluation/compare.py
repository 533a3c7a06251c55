"""`cs-signals evaluate --baseline RULES`: two rules files' scores on the same events side by
side, so a change to the rules is judged by what it does to every figure at once, overall
and per playbook (one figure improving while another falls is the usual trade-off)."""

from __future__ import annotations

from typing import Any

from workers.replay.evaluation.report import _NONE, _num, _target

# (label, metric key, field, digits, higher is better)
_ROWS: tuple[tuple[str, str, str, int, bool], ...] = (
    ("churn recall @30d", "churn_recall_30", "value", 2, True),
    ("churn recall @60d", "churn_recall_60", "value", 2, True),
    ("chance @30d", "chance_30", "value", 2, False),
    ("lead time, median days", "lead_time_days", "value", 1, True),
    ("noise /healthy acct /qtr", "noise", "value", 2, False),
    ("alert storm", "storm", "value", 2, False),
    ("precision", "precision", "value", 2, True),
    ("expansion recall", "expansion_recall", "value", 2, True),
    ("false expansion /acct /qtr", "false_expansion", "value", 2, False),
    ("CSM load /owner /week", "csm_load", "mean", 1, False),
    ("tasks after churn", "after_churn", "tasks", 0, False),
)


def _change(before: float | None, after: float | None, digits: int, higher: bool) -> str:
    if before is None or after is None:
        return ""
    delta = after - before
    if round(delta, digits) == 0:
        return "="
    better = (delta > 0) == higher
    return f"{delta:+,.{digits}f} " + ("better" if better else "worse")


def _met(metric: dict[str, Any]) -> str:
    met = metric.get("met")
    return "" if met is None else ("met" if met else "NOT MET")


def render_comparison(
    baseline: dict[str, Any], result: dict[str, Any], baseline_name: str, rules_name: str
) -> str:
    """The figures of `baseline` and `result` (both `score()` results on the same book)."""
    before_m, after_m = baseline["metrics"], result["metrics"]
    lines = [
        f"Compared with the baseline rules: {baseline_name} (before) -> {rules_name} (after)",
        f"{'Overall':<28}{'before':>9}{'after':>9}  {'change':<14}{'target':<8}verdicts",
    ]
    for label, key, field, digits, higher in _ROWS:
        before, after = before_m[key].get(field), after_m[key].get(field)
        verdicts = f"{_met(before_m[key]) or '-'} -> {_met(after_m[key]) or '-'}"
        target = _target(after_m[key])
        lines.append(
            f"  {label:<26}{_num(before, digits):>9}{_num(after, digits):>9}  "
            f"{_change(before, after, digits, higher):<14}{target:<8}"
            + (verdicts if target else "")
        )
    lines += ["", "Per playbook: opened / noise / precision, before -> after"]
    names = list(dict.fromkeys([*baseline["playbooks"], *result["playbooks"]]))
    width = max(len(n) for n in names) + 2 if names else 0
    for name in names:
        lines.append(
            f"  {name:<{width}}{_playbook(baseline['playbooks'].get(name))} -> "
            f"{_playbook(result['playbooks'].get(name))}"
        )
    return "\n".join(line.rstrip() for line in lines)


def _playbook(row: dict[str, Any] | None) -> str:
    if row is None:
        return f"{_NONE} (not in these rules)"
    if not row["risk_opened"]:
        return f"{row['opened']:,} (not a risk playbook)"
    return f"{row['opened']:,} / {_num(row['noise'])} / {_num(row['precision'])}"
