"""The scores of `cs-signals evaluate` for people (an aligned table) and tools (one JSON object)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["render_json", "render_table"]

_NONE = "—"


def render_json(result: dict[str, Any]) -> str:
    """One JSON object with stable keys (sorted), for tools."""
    return json.dumps(result, sort_keys=True, indent=2, ensure_ascii=False)


def _num(value: float | None, digits: int = 2) -> str:
    if value is None:
        return _NONE
    if isinstance(value, int):
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _pct(value: float | None) -> str:
    return _NONE if value is None else f"{value:.0%}"


def _verdict(metric: dict[str, Any]) -> str:
    met = metric.get("met")
    if met is None:
        return "n/a" if "target" in metric else ""
    return "met" if met else "NOT MET"


def _target(metric: dict[str, Any]) -> str:
    target = metric.get("target")
    if not target:
        return ""
    return target.replace("<=", "≤").replace(">=", "≥")


def render_table(result: dict[str, Any]) -> str:
    book, tasks, m = result["book"], result["tasks"], result["metrics"]
    lines = [
        f"Book   {book['first_day']} to {book['last_day']} ({book['days']} days); warm-up "
        f"until {book['warmup_end']}, then {book['post_warmup_days']} days scored "
        f"({book['full_weeks']} full weeks)",
        f"       {book['accounts']:,} accounts: {book['healthy']:,} healthy, "
        f"{book['churned']:,} churned, {book['expanded']:,} expanded, {book['dipped']:,} dipped, "
        f"{book['downgraded']:,} downgraded",
        f"Tasks  {tasks['opened']:,} opened, {tasks['risk']:,} risk: "
        f"{tasks['risk_post_warmup']:,} after the warm-up, {tasks['risk_warmup']:,} in it "
        f"(reported apart; {tasks['risk_warmup_on_healthy']:,} on healthy accounts)",
        "",
    ]
    r30, r60 = m["churn_recall_30"], m["churn_recall_60"]
    lead, noise, storm = m["lead_time_days"], m["noise"], m["storm"]
    prec, exp, fexp = m["precision"], m["expansion_recall"], m["false_expansion"]
    load, after = m["csm_load"], m["after_churn"]
    worst = (
        f"worst week {storm['worst_week']}: {storm['worst_week_tasks']} tasks "
        f"({storm['worst_week_right']} right, {storm['worst_week_on_healthy']} on healthy), "
        f"mean {_num(storm['mean_week_tasks'], 1)}; by chance {_num(storm['by_chance'])}"
        if storm["worst_week"]
        else "no full week after the warm-up"
    )
    rows: list[tuple[str, str, dict[str, Any], str]] = [
        (
            "churn recall @30d",
            _num(r30["value"]),
            r30,
            f"{r30['caught']} of {r30['churners']} churners",
        ),
        ("churn recall @60d", _num(r60["value"]), r60, f"{r60['caught']} of {r60['churners']}"),
        ("chance @30d", _num(m["chance_30"]["value"]), m["chance_30"], "healthy accounts' rate"),
        ("chance @60d", _num(m["chance_60"]["value"]), m["chance_60"], ""),
        (
            "lift @30d / @60d",
            f"{_num(m['lift_30']['value'], 1)} / {_num(m['lift_60']['value'], 1)}",
            {},
            "recall / chance",
        ),  # fmt: skip
        (
            "lead time, median days",
            _num(lead["value"], 1),
            lead,
            f"{lead['churners_with_lead']} with a risk task before churn, "
            f"{lead['churners_without']} without",
        ),
        (
            "noise /healthy acct /qtr",
            _num(noise["value"]),
            noise,
            f"{_n(noise['tasks'], 'task')}; {_pct(noise['share_with_any'])} of "
            f"{noise['healthy_accounts']} healthy have ≥ 1",
        ),
        ("alert storm", _num(storm["value"]), storm, worst),
        ("precision", _num(prec["value"]), prec, f"{prec['hits']} of {prec['tasks']} risk tasks"),
        (
            "expansion recall",
            _num(exp["value"]),
            exp,
            f"{exp['caught']} of {exp['expanders']} expanders",
        ),
        (
            "false expansion /acct /qtr",
            _num(fexp["value"]),
            fexp,
            f"{_n(fexp['tasks'], 'task')} on {fexp['accounts']} never-expanders",
        ),
        (
            "CSM load /owner /week",
            f"{_num(load['mean'], 1)} mean",
            {},
            f"max {load['max']} ({load['max_owner']}, week of {load['max_week']})"
            if load["max_owner"]
            else f"max {_num(load['max'])}",
        ),
        ("after churn", f"{after['tasks']:,}", {}, f"{after['risk_tasks']:,} of them risk tasks"),
    ]
    dismissed = result["dismissed"]
    if dismissed["tasks"]:
        reasons = ", ".join(
            f"{reason} {v['tasks']}" for reason, v in dismissed["by_reason"].items()
        )
        rows.append(("dismissed", _pct(dismissed["share"]), {}, f"{dismissed['tasks']}: {reasons}"))
    lines.append(f"{'Overall':<28}{'value':>10}  {'target':<8}{'':<9}  notes")
    for label, value, metric, note in rows:
        lines.append(
            f"  {label:<26}{value:>10}  {_target(metric):<8}{_verdict(metric):<9}  {note}".rstrip()
        )
    lines += ["", _playbook_table(result["playbooks"])]
    return "\n".join(lines)


_PB_COLUMNS = (
    ("opened", 7),
    ("risk", 6),
    ("scored", 7),
    ("noise", 7),
    ("healthy", 8),
    ("precision", 10),
    ("caught@30", 10),
    ("after churn", 12),
    ("dismissed", 10),
)


def _playbook_table(playbooks: dict[str, Any]) -> str:
    width = max([len("Per playbook"), *(len(pb) + 2 for pb in playbooks)]) + 2
    header = f"{'Per playbook':<{width}}" + "".join(f"{n:>{w}}" for n, w in _PB_COLUMNS)
    lines = [header]
    for pb, row in playbooks.items():
        risk = row["risk_opened"] > 0
        cells = (
            f"{row['opened']:,}",
            f"{row['risk_opened']:,}" if risk else "no",
            f"{row['risk_post_warmup']:,}" if risk else _NONE,
            _num(row["noise"]),
            _pct(row["healthy_share"]),
            _num(row["precision"]),
            _NONE if row["churners_caught_30"] is None else str(row["churners_caught_30"]),
            f"{row['after_churn']:,}",
            _pct(row["dismissed_share"]) if row["dismissed"] else "0",
        )
        lines.append(
            f"  {pb:<{width - 2}}"
            + "".join(f"{c:>{w}}" for c, (_n, w) in zip(cells, _PB_COLUMNS, strict=True))
        )
    lines.append(
        "  risk: risk tasks opened (no = never a risk playbook); scored: after the warm-up; "
        "noise: per healthy account per quarter;\n  healthy: share of scored tasks on healthy "
        "accounts; caught@30: churners with one of its tasks 30-120 days before churn."
    )
    return "\n".join(lines)
