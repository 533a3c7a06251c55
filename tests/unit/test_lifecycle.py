"""Task lifecycle: one open task per playbook, meaningful updates only, auto-resolve with
hysteresis, cool-down, escalation, segment overrides, user-defined playbooks, timing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from workers.core.engine import evaluation_boundaries
from workers.core.lifecycle import task_id
from workers.core.testing import T0, Sim, at, default_rules, rules_with, unguarded_rules

UNGUARDED = unguarded_rules()

CORE = ("dashboards", "reports", "alerts", "integrations", "automation", "exports")


def new(segment: str = "smb", rules=None, **facts: object) -> Sim:
    # The lifecycle is tested on the owner's thresholds alone (the guards: test_guards.py).
    sim = Sim(rules or UNGUARDED)
    sim.account(at(0), segment=segment, csm_id="csm-1", **facts)
    return sim


# --- one open task, updates only when something meaningful changes --------------------------


def test_usage_drop_hovering_around_threshold_is_one_task() -> None:
    sim = new(licensed_seats=20)
    sim.daily_usage(0, 7, 10)
    # Weekly active users hover around -30% of the baseline for five weeks.
    for week, users in enumerate([7, 8, 6, 8, 7], start=1):
        sim.daily_usage(7 * week, 7, users)
    sim.advance(at(42, 5))
    assert sim.actions("usage_drop") == ["opened"]
    # And not a message per usage event or per hourly boundary.
    assert len(sim.of("usage_drop")) == 1


def test_usage_drop_resolves_back_within_15_percent_of_baseline() -> None:
    sim = new(licensed_seats=20)
    sim.daily_usage(0, 7, 10)
    sim.daily_usage(7, 7, 6)
    sim.daily_usage(14, 7, 8)  # 8 < 8.5: not yet recovered
    sim.advance(at(21, 1))
    assert sim.actions("usage_drop") == ["opened"]
    sim.daily_usage(21, 7, 9)  # 9 >= 8.5
    sim.advance(at(28, 1))
    tasks = sim.of("usage_drop")
    assert [t.action for t in tasks] == ["opened", "resolved"]
    assert tasks[1].task_id == tasks[0].task_id
    # Day 21 completes with 9 distinct users in the window days 15-21.
    assert tasks[1].occurred_at == at(22)
    assert "recovered to 9" in tasks[1].reason


def test_second_detractor_updates_and_redelivery_does_not() -> None:
    sim = new()
    sim.nps(at(1, 9), 3, event_id="n1")
    sim.nps(at(1, 9), 3, event_id="n1")  # redelivered
    sim.nps(at(2, 9), 5, event_id="n2")  # a second detractor
    tasks = sim.of("nps_detractor")
    assert [t.action for t in tasks] == ["opened", "updated"]
    assert tasks[0].task_id == tasks[1].task_id
    assert tasks[1].created_at == at(1, 9)  # created_at stays the opening time
    assert tasks[1].evidence["score"] == 5 and tasks[1].evidence["previous_score"] == 3


@pytest.mark.parametrize(
    ("later", "resolves"),
    [((3, 7), True), ((3, 6), False), ((3, 9), True)],
)
def test_detractor_resolves_on_a_later_good_response(
    later: tuple[int, int], resolves: bool
) -> None:
    sim = new()
    sim.nps(at(1), 2)
    day, score = later
    sim.nps(at(day), score)
    expected = ["opened", "resolved"] if resolves else ["opened", "updated"]
    assert sim.actions("nps_detractor") == expected


def test_detractor_resolves_after_quiet_period() -> None:
    sim = new()
    sim.nps(at(1, 6), 2)
    sim.advance(at(31, 5))
    assert sim.actions("nps_detractor") == ["opened"]
    sim.advance(at(31, 6))
    tasks = sim.of("nps_detractor")
    assert [t.action for t in tasks] == ["opened", "resolved"]
    assert "No new detractor response in 30 days" in tasks[1].reason


def test_support_escalation_updates_per_new_ticket_and_resolves_when_all_closed() -> None:
    sim = new()
    sim.ticket(at(1, 1), "T1", "escalated", "high")
    sim.ticket(at(1, 2), "T1", "escalated", "high")  # same ticket again: nothing new
    sim.ticket(at(1, 3), "T2", "opened", "urgent")  # a new urgent ticket: update
    sim.ticket(at(1, 4), "T1", "resolved", "high")  # T2 still open
    sim.ticket(at(1, 5), "T2", "closed", "urgent")
    tasks = sim.of("support_escalation")
    assert [t.action for t in tasks] == ["opened", "updated", "resolved"]
    assert len({t.task_id for t in tasks}) == 1
    assert tasks[2].occurred_at == at(1, 5)


def test_enterprise_escalation_is_critical_and_due_in_4h() -> None:
    sim = new(segment="enterprise")
    sim.ticket(at(1, 9), "T1", "escalated", "high")
    (task,) = sim.of("support_escalation")
    assert (task.priority, task.due_at, task.owner_id) == ("critical", at(1, 13), "csm-1")
    smb = new(segment="smb")
    smb.ticket(at(1, 9), "T1", "escalated", "high")
    (task,) = smb.of("support_escalation")
    assert (task.priority, task.due_at) == ("high", at(1, 17))


def test_owner_is_none_when_csm_unknown() -> None:
    sim = Sim()
    sim.ticket(at(0, 1), "T1", "opened", "urgent")
    assert sim.of("support_escalation")[0].owner_id is None


# --- cool-down ------------------------------------------------------------------------------


def test_cool_down_blocks_reopen_for_seven_days() -> None:
    sim = new()
    sim.nps(at(1), 2)
    sim.nps(at(2), 9)  # resolves
    sim.nps(at(5), 3)  # within cool-down, same priority: nothing
    sim.nps(at(9, 1), 3)  # after 7 days: a new episode
    tasks = sim.of("nps_detractor")
    assert [(t.action, t.episode) for t in tasks] == [
        ("opened", 1),
        ("resolved", 1),
        ("opened", 2),
    ]
    assert tasks[2].task_id != tasks[0].task_id
    assert tasks[2].task_id == task_id("acc-1", "nps_detractor", 2)


def test_reopens_during_cool_down_when_worse() -> None:
    sim = new(renewal_date=(T0 + timedelta(days=80)).date())
    sim.account(at(2), renewal_date=(T0 + timedelta(days=85)).date())  # moved: resolves
    sim.advance(at(3))  # 83 days away, medium again during cool-down: suppressed
    sim.account(at(4), renewal_date=(T0 + timedelta(days=25)).date())  # 21 days: high
    sim.advance(at(5))
    tasks = sim.of("renewal_approaching")
    assert [(t.action, t.priority, t.episode) for t in tasks] == [
        ("opened", "medium", 1),
        ("resolved", "medium", 1),
        ("opened", "high", 2),
    ]
    assert "moved from 2026-05-21 to 2026-05-26" in tasks[1].reason


def test_renewal_resolves_when_the_date_passes() -> None:
    sim = new(renewal_date=(T0 + timedelta(days=10)).date())
    sim.advance(at(10, 23))
    assert sim.actions("renewal_approaching") == ["opened"]
    sim.advance(at(11))
    assert sim.actions("renewal_approaching") == ["opened", "resolved"]


# --- escalation and health recovery -----------------------------------------------------------


def _healthy_then_at_risk() -> Sim:
    sim = new()
    sim.nps(at(0, 1), 2)  # 100 -> 60: into at risk from above
    return sim


def test_at_risk_escalates_to_critical_instead_of_a_second_task() -> None:
    sim = _healthy_then_at_risk()
    assert sim.actions("health_at_risk") == ["opened"]
    sim.ticket(at(0, 2), "T1", "escalated", "high")  # score 20
    sim.advance(at(0, 10))
    tasks = sim.of("health_at_risk")
    assert [t.action for t in tasks] == ["opened", "updated"]
    update = tasks[1]
    assert (update.priority, update.previous_priority) == ("critical", "high")
    assert update.task_id == tasks[0].task_id
    critical_steps = default_rules().playbooks["health_critical"].steps
    assert update.steps[-len(critical_steps) :] == critical_steps
    assert update.due_at == at(1, 2)  # the critical SLA from the escalation
    assert sim.of("health_critical") == []


def _usage_dip(sim: Sim, until_day: int) -> None:
    """10 of 10 seats active, then 2 for a week (usage critical: 63, at risk), then 10 again."""
    sim.daily_usage(0, 7, 10, features=CORE)
    sim.daily_usage(7, 7, 2, features=CORE)
    sim.daily_usage(14, until_day - 14, 10, features=CORE)


def test_health_task_resolves_after_two_weeks_at_or_above_70() -> None:
    sim = new(licensed_seats=10)
    _usage_dip(sim, 29)
    sim.advance(at(28, 23))
    scores = [(h.computed_at, h.score) for h in sim.health]
    assert scores[-2:] == [(at(14), 63.1), (at(15), 100)]
    assert sim.actions("health_at_risk") == ["opened"]
    sim.advance(at(29))
    tasks = sim.of("health_at_risk")
    assert [t.action for t in tasks] == ["opened", "resolved"]
    assert (tasks[0].created_at, tasks[1].occurred_at) == (at(14), at(29))


def test_health_recovery_clock_restarts_when_the_score_dips() -> None:
    rules = rules_with(
        playbooks={"health_at_risk": {"params": {"resolve_at_least": 90, "confirm_days": 0}}},
        book_baseline={"enabled": False},
    )
    sim = new(licensed_seats=10, rules=rules)
    _usage_dip(sim, 20)
    sim.nps(at(20, 1), 2)  # 85: below the (tuned) recovery level of 90 for an hour
    sim.nps(at(20, 2), 9)
    sim.daily_usage(20, 14, 10, features=CORE)
    sim.advance(at(34, 1, 59))
    assert sim.actions("health_at_risk") == ["opened"]
    sim.advance(at(34, 2))
    assert sim.actions("health_at_risk") == ["opened", "resolved"]


# --- other auto-resolves ------------------------------------------------------------------------


def test_champion_silent_resolves_when_active_again() -> None:
    sim = new(champion_user_id="champ")
    sim.usage(at(0, 10), "champ")
    sim.advance(at(12))
    sim.usage(at(12, 9), "champ")
    sim.advance(at(13))
    assert sim.actions("champion_silent") == ["opened", "resolved"]


def test_champion_silent_resolves_when_champion_changes_to_an_active_user() -> None:
    sim = new(champion_user_id="champ")
    sim.usage(at(0, 10), "champ")
    sim.advance(at(12))
    sim.usage(at(12, 9), "newbie")
    sim.account(at(12, 10), champion_user_id="newbie")
    tasks = sim.of("champion_silent")
    assert [t.action for t in tasks] == ["opened", "resolved"]
    assert "newbie" in tasks[1].reason


def test_low_adoption_resolves_at_40_percent() -> None:
    sim = new(contract_start=(T0 - timedelta(days=90)).date())
    sim.daily_usage(0, 2, 1, features=("dashboards",))
    sim.advance(at(14))  # 14 days observed
    assert sim.actions("low_adoption") == ["opened"]
    sim.daily_usage(14, 1, 1, features=("reports",))  # 2 of 6: 33%, between the two edges
    sim.advance(at(16))
    assert sim.actions("low_adoption") == ["opened"]
    sim.daily_usage(16, 1, 1, features=("alerts",))  # 3 of 6: 50%
    sim.advance(at(18))
    assert sim.actions("low_adoption") == ["opened", "resolved"]


def test_expansion_hysteresis() -> None:
    sim = new(licensed_seats=10, champion_user_id="user-0")
    sim.daily_usage(0, 7, 10, features=CORE)
    sim.advance(at(7, 1))
    assert sim.actions("expansion_signal") == ["opened"]
    # Down to 8 of 10 (80%): below the opening level, not below the resolve level.
    sim.daily_usage(7, 7, 8, features=CORE)
    sim.advance(at(14, 1))
    assert sim.actions("expansion_signal") == ["opened"]
    sim.daily_usage(14, 7, 7, features=CORE)  # 70%
    sim.advance(at(21, 1))
    assert sim.actions("expansion_signal") == ["opened", "resolved"]


# --- user-defined playbooks ----------------------------------------------------------------


def _custom_rules(**extra: object):
    playbook = {
        "condition": "open_tickets >= 3",
        "priority": "medium",
        "owner_role": "support_lead",
        "sla": "24h",
        "steps": ["Review the open tickets with support"],
        **extra,
    }
    return rules_with(playbooks={"ticket_pileup": playbook})


def test_user_defined_playbook_fires_and_resolves() -> None:
    sim = new(rules=_custom_rules())
    for i in range(4):
        sim.ticket(at(1, i), f"T{i}", "opened", "low")
    sim.ticket(at(1, 5), "T0", "closed", "low")  # 3 open: still holds
    sim.ticket(at(1, 6), "T1", "closed", "low")  # 2 open: resolves
    tasks = sim.of("ticket_pileup")
    assert [t.action for t in tasks] == ["opened", "resolved"]
    opened = tasks[0]
    assert (opened.priority, opened.owner_role, opened.due_at) == (
        "medium",
        "support_lead",
        at(2, 2),
    )
    assert opened.steps == ["Review the open tickets with support"]
    assert opened.evidence["values"] == {"open_tickets": 3}
    assert "open_tickets = 3" in opened.reason


def test_user_defined_playbook_with_resolve_when_and_and() -> None:
    rules = _custom_rules(
        condition="open_tickets >= 3 and open_high_urgent_tickets >= 1",
        resolve_when="open_tickets <= 1",
    )
    sim = new(rules=rules)
    for i in range(3):
        sim.ticket(at(1, i), f"T{i}", "opened", "low")
    assert sim.of("ticket_pileup") == []
    sim.ticket(at(1, 3), "T0", "updated", "high")
    sim.ticket(at(1, 4), "T1", "closed", "low")  # 2 open: resolve_when not yet
    assert sim.actions("ticket_pileup") == ["opened"]
    sim.ticket(at(1, 5), "T2", "closed", "low")
    assert sim.actions("ticket_pileup") == ["opened", "resolved"]


def test_user_defined_playbook_segment_filter() -> None:
    rules = _custom_rules(segments=["enterprise"])
    smb = new(segment="smb", rules=rules)
    ent = new(segment="enterprise", rules=rules)
    for sim in (smb, ent):
        for i in range(3):
            sim.ticket(at(1, i), f"T{i}", "opened", "low")
    assert smb.of("ticket_pileup") == []
    assert ent.actions("ticket_pileup") == ["opened"]


# --- ids and timing -------------------------------------------------------------------------


def test_task_ids_are_deterministic() -> None:
    a = task_id("acc-1", "usage_drop", 1)
    assert a == task_id("acc-1", "usage_drop", 1)
    assert (
        len(
            {
                a,
                task_id("acc-1", "usage_drop", 2),
                task_id("acc-2", "usage_drop", 1),
                task_id("acc-1", "nps_detractor", 1),
            }
        )
        == 4
    )
    assert a == "9c495d18-3295-5f09-8181-cee4a1d18016"  # stable across releases


def test_usage_events_never_evaluate_mid_interval() -> None:
    sim = new(champion_user_id="champ")
    sim.usage(at(0, 10), "champ")
    sim.usage(at(11, 10, 30), "someone")  # crosses boundaries: evaluated up to 11d 10:00
    assert sim.state.last_eval == at(11, 10).timestamp()
    (task,) = sim.of("champion_silent")
    assert task.created_at == at(11, 10)


def test_late_event_is_evaluated_at_the_account_clock() -> None:
    sim = new()
    sim.advance(at(5))
    sim.nps(at(2), 1)  # three days late
    (task,) = sim.of("nps_detractor")
    assert task.created_at == at(5)


def test_catch_up_is_capped() -> None:
    rules = rules_with(evaluation={"catchup_full_boundaries": 48})
    hour = 3600.0
    start = at(0).timestamp()
    assert len(evaluation_boundaries(start, start + 10 * hour, rules)) == 10
    assert len(evaluation_boundaries(start, start + 48 * hour, rules)) == 48
    year = evaluation_boundaries(start, start + 365 * 86400 + 5 * hour, rules)
    assert year[:48] == [start + k * hour for k in range(1, 49)]
    assert year[-1] == start + 365 * 86400 + 5 * hour
    assert all(b % 86400 == 0 for b in year[48:-1])  # day starts
    assert len(year) == 48 + 363 + 1
    assert year == sorted(set(year))
    decade = evaluation_boundaries(start, start + 3650 * 86400, rules)
    assert len(decade) <= 48 + rules.evaluation.catchup_max_days + 1
    # The bundled rules evaluate the whole retained usage (62 days) hour by hour.
    full = default_rules().evaluation.catchup_full_boundaries
    assert full >= 62 * 24
    assert len(evaluation_boundaries(start, start + 62 * 86400, default_rules())) == 62 * 24


def test_long_silence_still_raises_time_driven_tasks() -> None:
    sim = new(champion_user_id="champ", renewal_date=(T0 + timedelta(days=200)).date())
    sim.usage(at(0, 10), "champ")
    sim.advance(at(300))
    assert sim.actions("champion_silent") == ["opened"]
    assert sim.actions("renewal_approaching") == ["opened", "updated", "updated", "resolved"]
