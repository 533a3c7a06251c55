"""The health score: five components, points per band, weights shared pro rata when a
component has no data. Every edge is inclusive exactly as DOMAIN.md writes it.

`score_health` runs at every evaluation but a HealthScore is only published when the score or
band changes, so the result keeps plain numbers and builds the `HealthComponent` models (with
their rounded figures and explanations) only when `components` is first read."""

from __future__ import annotations

from typing import Any

from config.rules import COMPONENTS, HealthRules
from events.models import HealthComponent

_EPS = 1e-9  # ratios like 5/10 must land on the inclusive edge despite float rounding


class HealthPlan:
    """The per-HealthRules constants of scoring, derived once per rules object (held by the
    engine's Plan, see plan.py) instead of at every evaluation."""

    __slots__ = ("health", "points", "weights", "positive", "provisional_weights", "n_core")

    def __init__(self, health: HealthRules) -> None:
        self.health = health
        self.points: dict[str, int] = health.points.model_dump()
        self.weights = dict(health.weights)
        self.positive = frozenset(c for c in COMPONENTS if self.weights.get(c, 0) > 0)
        self.provisional_weights = (
            self.weights.get("usage", 0) > 0 or self.weights.get("adoption", 0) > 0
        )
        self.n_core = len(health.core_features)


class HealthResult:
    """score, band, the components left out (`missing`) and per-component points; the
    `HealthComponent` models are built on first access of `components`."""

    __slots__ = ("score", "band", "missing", "warming_up", "points", "_parts", "_components")

    def __init__(
        self,
        score: float,
        band: str,
        parts: list[tuple[Any, ...]],
        missing: list[str],
        warming_up: bool = False,
    ) -> None:
        self.score = score
        self.band = band
        self.missing = missing
        # Usage and adoption were left out because the account is still warming up: a
        # provisional score, not a baseline to fall from.
        self.warming_up = warming_up
        self._parts = parts
        self._components: dict[str, HealthComponent] | None = None
        # component -> points, in component-name order (as stored in the state).
        self.points: dict[str, int] = {p[0]: p[2] for p in sorted(parts, key=_first)}

    @property
    def components(self) -> dict[str, HealthComponent]:
        if self._components is None:
            self._components = {
                c: HealthComponent(
                    raw=_raw(c, raw),
                    points=pts,
                    weight=round(weight, 4),
                    contribution=round(contribution, 2),
                    detail=_detail(c, raw, detail),
                )
                for c, raw, pts, weight, contribution, detail in self._parts
            }
        return self._components


def _first(part: tuple[Any, ...]) -> str:
    return part[0]


def _raw(component: str, raw: Any) -> Any:
    return round(raw, 4) if component in ("usage", "adoption") else raw


def _detail(component: str, raw: Any, d: tuple[Any, ...]) -> str:
    if component == "usage":
        text = f"{d[0]} of {d[1]} seats active in 7 days ({raw:.0%})"
        if len(d) > 4 and d[4] is not None and d[2] is not None:
            text += (
                f"; the whole book was off ({d[2]:.0%} of its usual week), so judged on the "
                f"7 days that ended {d[4] + 1} days ago: {d[3]:.0%}"
            )
        elif len(d) > 3 and d[3] is not None and d[2] is not None:
            text += f"; the whole book was at {d[2]:.0%} of its usual week, so judged as {d[3]:.0%}"
        return text
    if component == "adoption":
        return f"{d[0]} of {d[1]} core features used ({raw:.0%})"
    if component == "engagement":
        return _engagement_detail(raw, d)
    if component == "satisfaction":
        return f"latest NPS {raw}"
    return f"{d[0]} escalations in 30 days, {raw} open high/urgent tickets"


_GRADE_WORDS = {"good": "good", "at_risk": "at risk", "critical": "critical"}


def _engagement_detail(raw: Any, d: tuple[Any, ...]) -> str:
    """Says which measure the engagement component used: the customer's responsiveness
    (activity data) or the champion-activity proxy (none)."""
    if not d or d[0] == "proxy":
        return f"champion last active {raw} days ago (proxy: no activity data)"
    _, grade, waiting, open_count, on_time, qbr_late = d
    parts = []
    if waiting is not None:
        parts.append(f"{open_count} outreach awaiting a reply, the oldest for {waiting} days")
    else:
        parts.append("no outreach awaiting a reply")
    if on_time is not None:
        parts.append(f"{on_time:.0%} of replies within 48 h")
    if qbr_late:
        parts.append(f"QBR {qbr_late} days overdue and not booked")
    return f"customer responsiveness ({_GRADE_WORDS[grade]}): " + ", ".join(parts)


def _engagement(m: dict[str, Any], health: HealthRules) -> tuple[Any, str, tuple[Any, ...]] | None:
    """The engagement component: with activity data (`open_outreach` is not None), the
    customer's responsiveness and QBR attendance; without, days since the champion was last
    active (a proxy). Raw value: days the oldest outreach has waited (0 when none), or the
    champion's inactive days."""
    e = health.engagement
    open_count = m.get("open_outreach")
    if open_count is None:
        days = m.get("days_since_champion_active")
        if days is None:
            return None
        grade = (
            "good"
            if days <= e.good_at_most_days
            else "at_risk"
            if days <= e.at_risk_at_most_days
            else "critical"
        )
        return (days, grade, ("proxy",))
    waiting = m.get("open_outreach_days")
    on_time = m.get("replies_on_time_ratio")
    qbr_late = None
    if e.qbr_overdue_is_at_risk:
        due = m.get("days_to_qbr_due")
        if due is not None and due < 0 and m.get("days_to_booked_qbr") is None:
            qbr_late = -due
    if waiting is not None and waiting >= e.unresponsive_after_days:
        grade = "critical"
    elif (
        (waiting is not None and waiting >= e.responsive_within_days)
        or (on_time is not None and on_time + _EPS < e.on_time_share_at_least)
        or qbr_late
    ):
        grade = "at_risk"
    else:
        grade = "good"
    return (waiting or 0, grade, ("activity", grade, waiting, open_count, on_time, qbr_late))


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
    m: dict[str, Any], health: HealthRules, warming: bool, n_core: int
) -> dict[str, tuple[Any, str, tuple[Any, ...]]]:
    """component -> (raw value, grade, detail data) for the components that have data."""
    out: dict[str, tuple[Any, str, tuple[Any, ...]]] = {}
    if not warming:
        ratio = m.get("active_users_7d_ratio")
        if ratio is not None:
            u = health.usage
            # In a week the whole book is below its usual (a holiday), the account is judged
            # as if the book had been at its usual level: a shared drop is nobody's risk.
            # In a week off for the whole book (a holiday: accounts differ in how deep it goes)
            # the last usual week is judged instead.
            level = m.get("book_level_7d")
            usual = m.get("usual_week_active_users")
            seats = m["licensed_seats"]
            if usual is not None and seats:
                judged = usual / seats
            else:
                judged = ratio / level if level is not None and 0 < level < 1 else ratio
            out["usage"] = (
                ratio,
                _grade_at_least(judged, u.good_at_least, u.at_risk_at_least),
                (
                    m["active_users_7d"],
                    seats,
                    level,
                    judged if judged != ratio or usual is not None else None,
                    m.get("usual_week_ended_days_ago") if usual is not None else None,
                ),
            )
        adoption = m.get("adoption_ratio")
        if adoption is not None:
            a = health.adoption
            out["adoption"] = (
                adoption,
                _grade_at_least(adoption, a.good_at_least, a.at_risk_at_least),
                (m["core_features_used_30d"], n_core),
            )
    engagement = _engagement(m, health)
    if engagement is not None:
        out["engagement"] = engagement
    nps = m.get("latest_nps")
    if nps is not None:
        s = health.satisfaction
        out["satisfaction"] = (nps, _grade_at_least(nps, s.good_at_least, s.at_risk_at_least), ())
    sup = health.support
    esc = m.get("escalations_30d") or 0
    hu = m.get("open_high_urgent_tickets") or 0
    if (esc and sup.escalation_is_critical) or hu > sup.at_risk_at_most_open:
        grade = "critical"
    elif hu > sup.good_at_most_open:
        grade = "at_risk"
    else:
        grade = "good"
    out["support"] = (hu, grade, (esc,))
    return out


def score_health(m: dict[str, Any], health: HealthRules | HealthPlan) -> HealthResult | None:
    """None only when every component with data has weight 0.

    Usage and adoption have no data while the account warms up (`health.warmup_days`). The
    engine passes its prepared HealthPlan; bare HealthRules are prepared on the spot."""
    plan = health if isinstance(health, HealthPlan) else HealthPlan(health)
    health = plan.health
    warming = in_warmup(m, health)
    grades = _grades(m, health, warming, plan.n_core)
    points = plan.points
    weights = plan.weights
    positive = plan.positive
    used = [c for c in COMPONENTS if c in grades and c in positive]
    missing = [c for c in COMPONENTS if c not in used]
    total_weight = sum(weights[c] for c in used)
    if total_weight <= 0:
        return None
    parts: list[tuple[Any, ...]] = []
    score = 0.0
    for c in used:
        raw, grade, detail = grades[c]
        weight = weights[c] / total_weight
        pts = points[grade]
        contribution = 20 * weight * pts
        score += contribution
        parts.append((c, raw, pts, weight, contribution, detail))
    score = round(min(100.0, max(20.0, score)), 1)
    provisional = warming and plan.provisional_weights
    return HealthResult(score, band_for(score, health), parts, missing, provisional)
