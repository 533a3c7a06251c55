"""The health score: five components, points per band, weights shared pro rata when a
component has no data. Every edge is inclusive exactly as DOMAIN.md writes it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config.rules import COMPONENTS, HealthRules
from events.models import HealthComponent

_EPS = 1e-9  # ratios like 5/10 must land on the inclusive edge despite float rounding


@dataclass
class HealthResult:
    score: float
    band: str
    components: dict[str, HealthComponent]
    missing: list[str]
    # Usage and adoption were left out because the account is still warming up: a provisional
    # score, not a baseline to fall from.
    warming_up: bool = False


def in_warmup(m: dict[str, Any], health: HealthRules) -> bool:
    """True until the account has `warmup_days` whole completed days of observed history.

    Without `observed_days` (no event yet: the usage metrics are None anyway) there is
    nothing to gate."""
    observed = m.get("observed_days")
    return observed is not None and observed < health.warmup_days


def band_for(score: float, health: HealthRules) -> str:
    b = health.bands
    if score >= b.champion:
        return "champion"
    if score >= b.healthy:
        return "healthy"
    if score >= b.at_risk:
        return "at_risk"
    return "critical"


def _grade_at_least(value: float, good: float, at_risk: float) -> str:
    if value + _EPS >= good:
        return "good"
    if value + _EPS >= at_risk:
        return "at_risk"
    return "critical"


def _grades(
    m: dict[str, Any], health: HealthRules, warming: bool
) -> dict[str, tuple[Any, str, str]]:
    """component -> (raw value, grade, detail) for the components that have data."""
    out: dict[str, tuple[Any, str, str]] = {}
    ratio = None if warming else m.get("active_users_7d_ratio")
    if ratio is not None:
        u = health.usage
        out["usage"] = (
            round(ratio, 4),
            _grade_at_least(ratio, u.good_at_least, u.at_risk_at_least),
            f"{m['active_users_7d']} of {m['licensed_seats']} seats active in 7 days ({ratio:.0%})",
        )
    adoption = None if warming else m.get("adoption_ratio")
    if adoption is not None:
        a = health.adoption
        out["adoption"] = (
            round(adoption, 4),
            _grade_at_least(adoption, a.good_at_least, a.at_risk_at_least),
            f"{m['core_features_used_30d']} of {len(health.core_features)} core features used "
            f"({adoption:.0%})",
        )
    days = m.get("days_since_champion_active")
    if days is not None:
        e = health.engagement
        grade = (
            "good"
            if days <= e.good_at_most_days
            else "at_risk"
            if days <= e.at_risk_at_most_days
            else "critical"
        )
        out["engagement"] = (days, grade, f"champion last active {days} days ago")
    nps = m.get("latest_nps")
    if nps is not None:
        s = health.satisfaction
        out["satisfaction"] = (
            nps,
            _grade_at_least(nps, s.good_at_least, s.at_risk_at_least),
            f"latest NPS {nps}",
        )
    sup = health.support
    esc = m.get("escalations_30d") or 0
    hu = m.get("open_high_urgent_tickets") or 0
    if (esc and sup.escalation_is_critical) or hu > sup.at_risk_at_most_open:
        grade = "critical"
    elif hu > sup.good_at_most_open:
        grade = "at_risk"
    else:
        grade = "good"
    out["support"] = (hu, grade, f"{esc} escalations in 30 days, {hu} open high/urgent tickets")
    return out


def score_health(m: dict[str, Any], health: HealthRules) -> HealthResult | None:
    """None only when every component with data has weight 0.

    Usage and adoption have no data while the account warms up (`health.warmup_days`)."""
    warming = in_warmup(m, health)
    grades = _grades(m, health, warming)
    points = health.points.model_dump()
    weights = health.weights
    used = [c for c in COMPONENTS if c in grades and weights.get(c, 0) > 0]
    missing = [c for c in COMPONENTS if c not in used]
    total_weight = sum(weights[c] for c in used)
    if total_weight <= 0:
        return None
    components: dict[str, HealthComponent] = {}
    score = 0.0
    for c in used:
        raw, grade, detail = grades[c]
        weight = weights[c] / total_weight
        contribution = 20 * weight * points[grade]
        score += contribution
        components[c] = HealthComponent(
            raw=raw,
            points=points[grade],
            weight=round(weight, 4),
            contribution=round(contribution, 2),
            detail=detail,
        )
    score = round(min(100.0, max(20.0, score)), 1)
    provisional = warming and (weights.get("usage", 0) > 0 or weights.get("adoption", 0) > 0)
    return HealthResult(score, band_for(score, health), components, missing, provisional)
