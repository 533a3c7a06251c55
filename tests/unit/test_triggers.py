"""Each trigger of the catalogue: the edges where it fires and where it does not."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workers.core.testing import T0, Sim, at, rules_with, unguarded_rules

CORE = ("dashboards", "reports", "alerts", "integrations", "automation", "exports")


def account(sim: Sim, **facts: object) -> None:
    base = {"segment": "smb", "licensed_seats": 20, "csm_id": "csm-1"}
    sim.account(at(0), **{**base, **facts})


UNGUARDED = unguarded_rules()


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
    # The owner's threshold alone: the guards (tests/unit/test_guards.py) switched off.
    sim = Sim(UNGUARDED)
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
    sim = Sim(UNGUARDED)
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
    sim = Sim(UNGUARDED)
    account(sim, champion_user_id="champ")
    sim.usage(at(0, 10), "champ")
    sim.advance(at(days, 10))
    tasks = sim.of("champion_silent")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        assert tasks[0].created_at == at(11, 10)
        assert tasks[0].evidence["days_since_champion_active"] == 11


@pytest.mark.parametrize(
    ("days_after_start", "observed", "fires"),
    [
        (59, 14, False),  # not 60 days after contract start yet
        (60, 14, True),
        (60, 13, False),  # 13 completed days observed: the 30-day window is too empty
        (400, 13, False),
        (400, 14, True),
    ],
)
def test_low_adoption_edges(days_after_start: int, observed: int, fires: bool) -> None:
    sim = Sim()
    # Evaluate exactly on the day `observed` whole days after the first event.
    start = (T0 + timedelta(days=observed) - timedelta(days=days_after_start)).date()
    account(sim, contract_start=start)
    sim.usage(at(0, 10), "u1", "dashboards")  # 1 of 6 core features: 17%
    sim.advance(at(observed))
    tasks = sim.of("low_adoption")
    assert [t.action for t in tasks] == (["opened"] if fires else [])
    if fires:
        assert tasks[0].created_at == at(observed)
        assert tasks[0].evidence["adoption_ratio"] == pytest.approx(1 / 6, abs=1e-4)
        assert tasks[0].evidence["observed_days"] == 14
        assert f"{days_after_start} days after contract start" in tasks[0].reason


def test_low_adoption_not_below_threshold() -> None:
    sim = Sim()
    account(sim, contract_start=(T0 - timedelta(days=90)).date())
    sim.usage(at(0, 10), "u1", "dashboards")
    sim.usage(at(0, 10), "u1", "reports")  # 2 of 6: 33%
    sim.advance(at(20))
    assert sim.of("low_adoption") == []


@pytest.mark.parametrize(("active", "fires"), [(89, False), (90, True)])
def test_expansion_edges(active: int, fires: bool) -> None:
    sim = Sim(UNGUARDED)
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
    sim = Sim(UNGUARDED)
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


# --- warm-up: a new account's nearly empty windows are not alarms -------------------------


def _new_account_with_weekly_habits(sim: Sim, days: int) -> None:
    """14 seats, every user works on one weekday (2 a day, all 14 every week); the features
    rotate through the core ones by day. A healthy account whose first days look empty."""
    account(
        sim,
        licensed_seats=14,
        champion_user_id="user-0",
        contract_start=(T0 - timedelta(days=365)).date(),
    )
    for day in range(days):
        for user in (day % 7, day % 7 + 7):
            sim.usage(at(day, 10), f"user-{user}", CORE[day % 6])


@pytest.mark.parametrize(
    ("warmup_days", "min_observed_days", "false_alarms"),
    [
        (7, 14, set()),  # the defaults
        (0, 0, {"health_at_risk", "low_adoption"}),  # scored from the first completed day
        (7, 0, {"low_adoption"}),
        (0, 14, {"health_at_risk"}),
    ],
)
def test_new_account_first_weeks_raise_no_alarm_from_empty_windows(
    warmup_days: int, min_observed_days: int, false_alarms: set[str]
) -> None:
    sim = Sim(
        rules_with(
            health={"warmup_days": warmup_days},
            playbooks={
                "low_adoption": {"params": {"min_observed_days": min_observed_days}},
                "health_at_risk": {"params": {"confirm_days": 0}},
            },
        )
    )
    _new_account_with_weekly_habits(sim, 28)
    sim.advance(at(28, 1))
    opened = {t.playbook for t in sim.tasks if t.action == "opened"}
    alarms = {"health_at_risk", "health_critical", "low_adoption", "usage_drop"}
    assert opened & alarms == false_alarms
    # Once warmed up the account scores what it is: every seat active weekly, every core
    # feature used.
    assert sim.health[-1].band == "champion"
    assert sim.health[-1].components_missing == ["satisfaction"]
    assert sim.state.health is not None and "warmup" not in sim.state.health
    assert sim.state.health["components"] == {
        "adoption": 5,
        "engagement": 5,
        "support": 5,
        "usage": 5,
    }


@pytest.mark.parametrize(
    ("day", "usage_points", "score", "band"),
    [
        (1, None, 100, "champion"),  # warming up: usage and adoption left out
        (6, None, 100, "champion"),
        (7, 1, 52.9, "at_risk"),  # warmed up: 0 of 20 seats active, no core feature used
        (8, 1, 43.5, "critical"),  # and the champion is 8 days silent
    ],
)
def test_silent_account_scores_usage_critical_after_warmup(
    day: int, usage_points: int | None, score: float, band: str
) -> None:
    sim = Sim()
    account(sim, champion_user_id="champ", contract_start=(T0 - timedelta(days=365)).date())
    sim.advance(at(day, 1))
    last = sim.health[-1]
    points = last.components["usage"].points if "usage" in last.components else None
    assert (points, last.score, last.band) == (usage_points, score, band)
    if usage_points is not None:
        assert last.components["usage"].raw == 0


def test_silent_account_raises_critical_not_a_fall_from_the_provisional_score() -> None:
    sim = Sim()
    account(sim, champion_user_id="champ", contract_start=(T0 - timedelta(days=365)).date())
    sim.advance(at(20))
    # 100 (provisional) -> 52.9 at the end of the warm-up is a change of model, not a fall;
    # the critical score the next day is a real alarm.
    assert sim.of("health_at_risk") == []
    assert sim.actions("health_critical") == ["opened"]
    assert sim.of("health_critical")[0].created_at == at(8)
    assert sim.actions("low_adoption") == ["opened"]  # 0% adoption, 14 days observed


@pytest.mark.parametrize(("warmup_days", "fires"), [(7, False), (0, True)])
def test_health_at_risk_not_when_the_warmup_ends_at_risk(warmup_days: int, fires: bool) -> None:
    sim = Sim(rules_with(health={"warmup_days": warmup_days}))
    account(sim, champion_user_id="user-0")
    # 6 of 20 seats (30%, usage at risk), 2 of 6 core features (adoption critical): 67.1.
    sim.daily_usage(0, 10, 6, features=("dashboards", "reports"))
    sim.advance(at(10, 1))
    assert (sim.health[-1].score, sim.health[-1].band) == (67.1, "at_risk")
    assert sim.actions("health_at_risk") == (["opened"] if fires else [])


def test_health_at_risk_fires_for_a_real_fall_after_warmup() -> None:
    sim = Sim(UNGUARDED)
    account(sim, champion_user_id="user-0")
    sim.daily_usage(0, 14, 20, features=CORE)
    sim.advance(at(14, 1))
    assert sim.health[-1].score == 100 and sim.of("health_at_risk") == []
    # Down to 6 of 20 seats and 2 core features over the next weeks: 100 -> 67.1.
    sim.daily_usage(14, 30, 6, features=("dashboards", "reports"))
    sim.advance(at(44, 1))
    tasks = sim.of("health_at_risk")
    assert [t.action for t in tasks][:1] == ["opened"]
    assert tasks[0].evidence["previous_score"] >= 70
