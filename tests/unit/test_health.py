"""The default health model: band edges, weights shared pro rata, extremes, publishing."""

from __future__ import annotations

from typing import Any

import pytest

from workers.core.health import band_for, score_health
from workers.core.testing import Sim, at, default_rules

HEALTH = default_rules().health


def m(**values: Any) -> dict[str, Any]:
    """Metrics with every component good unless overridden."""
    base = {
        "active_users_7d": 10,
        "licensed_seats": 10,
        "active_users_7d_ratio": 1.0,
        "adoption_ratio": 1.0,
        "core_features_used_30d": 6,
        "days_since_champion_active": 0,
        "latest_nps": 10,
        "escalations_30d": 0,
        "open_high_urgent_tickets": 0,
    }
    base.update(values)
    return base


def points(component: str, **values: Any) -> int:
    result = score_health(m(**values), HEALTH)
    assert result is not None
    return result.components[component].points


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(1.0, 5), (0.5, 5), (0.4999, 3), (0.25, 3), (0.2499, 1), (0.0, 1)],
)
def test_usage_edges(ratio: float, expected: int) -> None:
    assert points("usage", active_users_7d_ratio=ratio) == expected


def test_usage_exact_ratio_from_counts() -> None:
    # 5 of 10 seats is exactly 50%: good, despite float arithmetic.
    assert points("usage", active_users_7d=5, active_users_7d_ratio=5 / 10) == 5
    assert points("usage", active_users_7d=1, active_users_7d_ratio=1 / 4) == 3


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(0.7, 5), (0.69, 3), (0.4, 3), (0.39, 1), (0.0, 1)],
)
def test_adoption_edges(ratio: float, expected: int) -> None:
    assert points("adoption", adoption_ratio=ratio) == expected


@pytest.mark.parametrize(("days", "expected"), [(0, 5), (7, 5), (8, 3), (18, 3), (19, 1), (60, 1)])
def test_engagement_edges(days: int, expected: int) -> None:
    assert points("engagement", days_since_champion_active=days) == expected


@pytest.mark.parametrize(("nps", "expected"), [(10, 5), (8, 5), (7, 3), (6, 3), (5, 1), (0, 1)])
def test_satisfaction_edges(nps: int, expected: int) -> None:
    assert points("satisfaction", latest_nps=nps) == expected


@pytest.mark.parametrize(
    ("escalations", "open_hu", "expected"),
    [(0, 0, 5), (0, 2, 5), (0, 3, 3), (0, 5, 3), (0, 6, 1), (1, 0, 1)],
)
def test_support_edges(escalations: int, open_hu: int, expected: int) -> None:
    assert (
        points("support", escalations_30d=escalations, open_high_urgent_tickets=open_hu) == expected
    )


def test_extremes_are_100_and_20() -> None:
    best = score_health(m(), HEALTH)
    assert best is not None and best.score == 100 and best.band == "champion"
    worst = score_health(
        m(
            active_users_7d_ratio=0.0,
            adoption_ratio=0.0,
            days_since_champion_active=30,
            latest_nps=0,
            escalations_30d=1,
        ),
        HEALTH,
    )
    assert worst is not None and worst.score == 20 and worst.band == "critical"
    assert sum(c.contribution for c in worst.components.values()) == pytest.approx(20)


def test_weighted_sum() -> None:
    # usage critical (0.30 x 1), everything else good: 20 x (0.3 + 0.7 x 5) = 76
    result = score_health(m(active_users_7d_ratio=0.1), HEALTH)
    assert result is not None
    assert result.score == 76 and result.band == "healthy"
    usage = result.components["usage"]
    assert (usage.raw, usage.points, usage.weight, usage.contribution) == (0.1, 1, 0.3, 6.0)
    assert "1 of" not in usage.detail and "seats" in usage.detail


def test_missing_components_share_their_weight_pro_rata() -> None:
    # No NPS and no seats: usage (0.30) and satisfaction (0.15) are left out.
    result = score_health(
        m(active_users_7d_ratio=None, latest_nps=None, days_since_champion_active=20), HEALTH
    )
    assert result is not None
    assert result.missing == ["usage", "satisfaction"]
    assert set(result.components) == {"adoption", "engagement", "support"}
    weights = {c: v.weight for c, v in result.components.items()}
    assert weights == {"adoption": 0.3636, "engagement": 0.3636, "support": 0.2727}
    # 20 x (0.2/0.55 x 5 + 0.2/0.55 x 1 + 0.15/0.55 x 5) = 70.9
    assert result.score == 70.9


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, "champion"),
        (85, "champion"),
        (84.9, "healthy"),
        (70, "healthy"),
        (69.9, "at_risk"),
        (50, "at_risk"),
        (49.9, "critical"),
        (20, "critical"),
    ],
)
def test_band_edges(score: float, band: str) -> None:
    assert band_for(score, HEALTH) == band


def test_health_published_only_when_score_or_band_changes() -> None:
    sim = Sim()
    first = sim.account(at(0), licensed_seats=10, champion_user_id="user-0")
    assert len(first.health) == 1
    assert first.health[0].previous_score is None
    assert first.health[0].components_missing == ["usage", "adoption", "satisfaction"]
    # 4 of 6 core features (67%): adoption at risk once the 7-day warm-up completes.
    sim.daily_usage(0, 8, 10, features=("dashboards", "reports", "alerts", "integrations"))
    # 20 x (0.3x5 + 0.2x3 + 0.2x5 + 0.15x5) / 0.85 (no NPS yet) = 90.6
    assert [h.score for h in sim.health] == [100, 90.6]
    assert sim.health[1].computed_at == at(7)
    # Nothing changes over quiet hours within a day: no new score.
    before = len(sim.health)
    sim.advance(at(7, 23))
    assert len(sim.health) == before
    last = sim.health[-1]
    assert last.previous_score == sim.health[-2].score
    assert last.previous_band == sim.health[-2].band
    assert last.computed_at.minute == 0  # evaluated at a boundary (event time)


def test_health_computed_at_is_event_time_for_event_driven_evaluation() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    out = sim.nps(at(0, 5, 17), 2)
    assert out.health and out.health[0].computed_at == at(0, 5, 17)
    assert out.health[0].components["satisfaction"].points == 1


@pytest.mark.parametrize(
    ("observed_days", "warmup_days", "scored", "score"),
    [
        (None, 7, True, 52.9),  # no observed history known: nothing to gate
        (0, 7, False, 100),
        (6, 7, False, 100),
        (7, 7, True, 52.9),  # usage and adoption critical: 20 x 2.25 / 0.85
        (30, 7, True, 52.9),
        (0, 0, True, 52.9),
        (13, 14, False, 100),
    ],
)
def test_usage_and_adoption_wait_for_the_warmup(
    observed_days: int | None, warmup_days: int, scored: bool, score: float
) -> None:
    health = HEALTH.model_copy(update={"warmup_days": warmup_days})
    result = score_health(
        m(
            observed_days=observed_days,
            active_users_7d=0,
            active_users_7d_ratio=0.0,
            adoption_ratio=0.0,
            core_features_used_30d=0,
            latest_nps=None,
        ),
        health,
    )
    assert result is not None
    assert ("usage" in result.components) is scored
    assert ("adoption" in result.components) is scored
    assert ("usage" in result.missing) is not scored
    assert result.warming_up is not scored
    assert result.score == score


def test_end_of_warmup_is_published_even_at_the_same_score() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10, champion_user_id="user-0")
    sim.daily_usage(
        0,
        9,
        10,
        features=("dashboards", "reports", "alerts", "integrations", "automation", "exports"),
    )
    # 100 while warming up (usage and adoption left out), 100 with them: published twice.
    assert [(h.score, h.computed_at) for h in sim.health] == [(100, at(0)), (100, at(7))]
    assert sim.health[0].components_missing == ["usage", "adoption", "satisfaction"]
    assert sim.health[1].components_missing == ["satisfaction"]
    assert sim.health[1].previous_score == 100
    sim.advance(at(8, 23))
    assert len(sim.health) == 2
