"""Each trigger of the catalogue: the edges where it fires and where it does not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workers.core.testing import T0, Sim, at

CORE = ("dashboards", "reports", "alerts", "integrations", "automation", "exports")


def account(sim: Sim, **facts: object) -> None:
    base = {"segment": "smb", "licensed_seats": 20, "csm_id": "csm-1"}
    sim.account(at(0), **{**base, **facts})


@pytest.mark.parametrize(
    ("prev_users", "now_users", "fires"),
    [
        (10, 7, True),  # exactly 30%
        (10, 8, False),  # 20%
        (20, 14, True),  # exactly 30% again
        (20, 15, False),  # 25%
        (5, 3, True),  # the smallest eligible prior week
        (4, 0, False),  # prior week below 5 active users
        (10, 0, True),
    ],
)
def test_usage_drop_edges(prev_users: int, now_users: int, fires: bool) -> None:
    sim = Sim()
    account(sim)
    sim.daily_usage(0, 7, prev_users)
    sim.daily_usage(7, 7, now_users)
    sim.advance(at(14, 1))
    tasks = sim.of("usage_drop")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        task = tasks[0]
        assert task.created_at == at(14)  # the boundary where the week completed
        assert task.evidence["active_users_prev_7d"] == prev_users
        assert task.evidence["active_users_7d"] == now_users
        assert f"({prev_users} → {now_users})" in task.reason
        assert task.due_at == at(14) + timedelta(hours=48)


@pytest.mark.parametrize(("score", "fires"), [(0, True), (6, True), (7, False), (10, False)])
def test_nps_detractor_edges(score: int, fires: bool) -> None:
    sim = Sim()
    account(sim)
    sim.nps(at(3, 9, 30), score)
    tasks = sim.of("nps_detractor")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        assert tasks[0].created_at == at(3, 9, 30)
        assert tasks[0].due_at == at(4, 9, 30)
        assert tasks[0].priority == "high"
        assert tasks[0].evidence["score"] == score
        assert str(score) in tasks[0].reason


@pytest.mark.parametrize(
    ("status", "priority", "fires"),
    [
        ("opened", "urgent", True),
        ("opened", "high", False),
        ("opened", "normal", False),
        ("escalated", "high", True),
        ("escalated", "low", True),
        ("updated", "urgent", False),
    ],
)
def test_support_escalation_edges(status: str, priority: str, fires: bool) -> None:
    sim = Sim()
    account(sim)
    sim.ticket(at(1, 8), "T-1", status, priority)
    tasks = sim.of("support_escalation")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        assert tasks[0].due_at == at(1, 16)  # same day: 8 h
        assert "T-1" in tasks[0].reason


def test_renewal_milestones_90_60_30() -> None:
    sim = Sim()
    renewal = (T0 + timedelta(days=100)).date()
    account(sim, renewal_date=renewal)
    sim.advance(at(9, 23))
    assert sim.of("renewal_approaching") == []
    sim.advance(at(10))  # 90 days away
    sim.advance(at(39, 23))
    sim.advance(at(40))  # 60
    sim.advance(at(69, 23))
    sim.advance(at(70))  # 30
    sim.advance(at(95))
    tasks = sim.of("renewal_approaching")
    assert [(t.action, t.priority, t.evidence.get("milestone_days")) for t in tasks] == [
        ("opened", "medium", 90),
        ("updated", "medium", 60),
        ("updated", "high", 30),
    ]
    assert [t.created_at for t in tasks] == [at(10)] * 3
    assert [t.occurred_at for t in tasks] == [at(10), at(40), at(70)]
    assert tasks[2].previous_priority == "medium"
    assert len({t.task_id for t in tasks}) == 1
    assert "90 days away" in tasks[0].reason


def test_renewal_first_seen_inside_the_window_starts_at_the_right_milestone() -> None:
    sim = Sim()
    account(sim, renewal_date=(T0 + timedelta(days=25)).date())
    tasks = sim.of("renewal_approaching")
    assert [(t.action, t.priority, t.evidence["milestone_days"]) for t in tasks] == [
        ("opened", "high", 30)
    ]


@pytest.mark.parametrize(("days", "fires"), [(10, False), (11, True)])
def test_champion_silent_edges(days: int, fires: bool) -> None:
    sim = Sim()
    account(sim, champion_user_id="champ")
    sim.usage(at(0, 10), "champ")
    sim.advance(at(days, 10))
    tasks = sim.of("champion_silent")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        assert tasks[0].created_at == at(11, 10)
        assert tasks[0].evidence["days_since_champion_active"] == 11


@pytest.mark.parametrize(("days_after_start", "fires"), [(59, False), (60, True)])
def test_low_adoption_edges(days_after_start: int, fires: bool) -> None:
    sim = Sim()
    # Adoption is known from day 1 (the first completed day); evaluate exactly then.
    start = (T0 + timedelta(days=1) - timedelta(days=days_after_start)).date()
    account(sim, contract_start=start)
    sim.usage(at(0, 10), "u1", "dashboards")  # 1 of 6 core features: 17%
    sim.advance(at(1))
    tasks = sim.of("low_adoption")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        assert tasks[0].evidence["adoption_ratio"] == pytest.approx(1 / 6, abs=1e-4)
        assert "60 days after contract start" in tasks[0].reason


def test_low_adoption_not_below_threshold() -> None:
    sim = Sim()
    account(sim, contract_start=(T0 - timedelta(days=90)).date())
    sim.usage(at(0, 10), "u1", "dashboards")
    sim.usage(at(0, 10), "u1", "reports")  # 2 of 6: 33%
    sim.advance(at(2))
    assert sim.of("low_adoption") == []


@pytest.mark.parametrize(("active", "fires"), [(89, False), (90, True)])
def test_expansion_edges(active: int, fires: bool) -> None:
    sim = Sim()
    account(sim, licensed_seats=100, champion_user_id="user-0")
    sim.daily_usage(0, 1, active, features=CORE)
    sim.advance(at(1, 1))
    assert sim.health[-1].score >= 70
    tasks = sim.of("expansion_signal")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        assert tasks[0].priority == "medium"
        assert tasks[0].due_at == at(1) + timedelta(days=7)
        assert "90 of 100 licensed seats (90%)" in tasks[0].reason


def test_expansion_needs_health() -> None:
    sim = Sim()
    account(sim, licensed_seats=10, champion_user_id="champ")
    sim.daily_usage(0, 1, 10)  # 1 core feature, champion never active
    for i in range(6):
        sim.ticket(at(0, 12), f"T{i}", "opened", "high")
    sim.advance(at(20, 1))
    assert sim.health[-1].score < 70
    assert sim.of("expansion_signal") == []


def test_health_at_risk_fires_only_from_above() -> None:
    sim = Sim()
    account(sim, licensed_seats=10, champion_user_id="user-0")
    sim.daily_usage(0, 1, 10, features=CORE)
    sim.advance(at(1, 1))
    assert sim.health[-1].band in ("champion", "healthy")
    # Usage collapses to 2 of 10 seats: usage critical, still healthy (71.8).
    sim.daily_usage(1, 10, ["user-0", "user-1"], features=CORE)
    sim.advance(at(11, 1))
    assert (sim.health[-1].score, sim.health[-1].band) == (71.8, "healthy")
    assert sim.of("health_at_risk") == []
    # A passive-to-detractor NPS of 5 takes it into the at-risk band (64).
    sim.nps(at(11, 9), 5)
    assert (sim.health[-1].score, sim.health[-1].band) == (64, "at_risk")
    tasks = sim.of("health_at_risk")
    assert [t.action for t in tasks] == ["opened"]
    assert tasks[0].health is not None and tasks[0].health.band == "at_risk"
    assert tasks[0].evidence["previous_score"] >= 70


def test_health_at_risk_not_on_a_first_score_and_critical_opens_without_it() -> None:
    sim = Sim()
    sim.nps(at(0, 1), 2)  # first score ever: 20 x (0.15x1 + 0.15x5) / 0.3 = 60
    assert [(h.score, h.band) for h in sim.health] == [(60, "at_risk")]
    assert sim.of("health_at_risk") == []  # not "from above"
    sim.ticket(at(0, 2), "T1", "escalated", "high")  # support critical too: 20
    assert [h.score for h in sim.health] == [60, 20]
    assert sim.actions("health_critical") == ["opened"]
    assert sim.of("health_at_risk") == []
    task = sim.of("health_critical")[0]
    assert task.priority == "critical" and task.owner_role == "cs_manager_and_csm"
    assert task.evidence["previous_score"] == 60
    assert task.due_at == at(1, 2)
