"""Folding events into account state: facts, usage buckets, tickets, NPS, dedup, time."""

from __future__ import annotations

import pytest

from workers.core.codec import decode_state, encode_state
from workers.core.engine import new_state
from workers.core.metrics import compute_metrics
from workers.core.state import DAY, to_ts
from workers.core.testing import Sim, at, default_rules, rules_with
from workers.core.usage import UsageAggregates
from workers.core.users import DictUserStore, UserRecord


def metrics(sim: Sim, when) -> dict:
    return compute_metrics(sim.state, to_ts(when), sim.rules)


def test_partial_account_update_keeps_previous_values() -> None:
    sim = Sim()
    sim.account(at(0), name="Acme", segment="smb", licensed_seats=20, csm_id="csm-1")
    sim.account(at(1), licensed_seats=25)
    facts = sim.state.facts
    assert facts == {"name": "Acme", "segment": "smb", "licensed_seats": 25, "csm_id": "csm-1"}
    sim.account(at(2), renewal_date="2026-12-31", contract_start="2026-01-01")
    assert facts["renewal_date"] == "2026-12-31" and facts["licensed_seats"] == 25


def test_duplicate_event_id_counted_once() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    first = sim.usage(at(0, 10), "u1", quantity=5, event_id="dup")
    again = sim.usage(at(0, 10), "u1", quantity=5, event_id="dup")
    assert first.applied and not again.applied
    assert again.tasks == [] and again.health == []
    day = int(to_ts(at(0, 10)) // DAY)
    assert sim.state.usage.volume[day] == 5


def test_duplicate_non_usage_event_publishes_nothing() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    sim.nps(at(1), 3, event_id="n1")
    out = sim.nps(at(1), 3, event_id="n1")
    assert not out.applied and out.tasks == []
    assert len(sim.state.nps) == 1


def test_remembered_event_ids_are_bounded() -> None:
    sim = Sim(rules_with(dedup={"max_event_ids": 3}))
    for i in range(5):
        sim.usage(at(0, 1, i), "u", event_id=f"e{i}")
    assert [f"e{i}" in sim.state.seen for i in range(5)] == [False, False, True, True, True]
    assert len(sim.state.seen.usage) == 3
    # e0 fell out of the memory: a very late redelivery is counted again (bounded memory).
    assert sim.usage(at(0, 1), "u", event_id="e0").applied


def test_remembered_event_ids_are_digests_forgotten_by_event_time() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10, event_id="facts-1")
    sim.usage(at(0, 1), "u", event_id="use-1")
    assert all(len(key) == 8 for key in [*sim.state.seen.usage, *sim.state.seen.other])
    sim.advance(at(2, 12))  # pruned on a new day: usage ids older than 2 days are forgotten
    assert "use-1" in sim.state.seen and "facts-1" in sim.state.seen
    sim.advance(at(3, 12))
    assert "use-1" not in sim.state.seen and "facts-1" in sim.state.seen
    sim.advance(at(181, 12))  # other events' ids: 180 days
    assert "facts-1" not in sim.state.seen
    assert sim.usage(at(181, 13), "u", event_id="use-2").applied
    assert not sim.usage(at(181, 13), "u", event_id="use-2").applied


def test_nps_responses_and_tombstones_are_capped() -> None:
    sim = Sim(rules_with(retention={"max_nps_responses": 3, "max_closed_tickets": 4}))
    for i in range(6):
        sim.nps(at(0, i), 9 - i % 2)
    assert [n[0] for n in sim.state.nps] == [to_ts(at(0, h)) for h in (3, 4, 5)]
    for i in range(10):
        sim.ticket(at(1, i), f"T{i}", "opened")
        sim.ticket(at(1, i, 30), f"T{i}", "closed")
    assert len(sim.state.closed_tickets) <= 5
    sim.advance(at(2, 1))
    assert sorted(sim.state.closed_tickets) == ["T6", "T7", "T8", "T9"]


def test_usage_buckets_by_event_day() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    sim.usage(at(0, 1), "u1", "reports", 2)
    sim.usage(at(0, 23), "u2", "alerts", 3)
    sim.usage(at(1, 0), "u1", "alerts")
    d0 = int(to_ts(at(0)) // DAY)
    users = sim.state.users
    # Per user: the first activity of the last active day, and a mask of active days.
    assert users.get("u1") == UserRecord(to_ts(at(1, 0)), 0b11)
    assert users.get("u2") == UserRecord(to_ts(at(0, 23)), 0b1)
    usage = sim.state.usage
    assert usage.newest == d0 + 1
    assert usage.last_active == {d0: 1, d0 + 1: 1}  # u2 last active on day 0, u1 on day 1
    assert usage.closed == {d0: [2, 2]}  # day 0 closed with 2 users in its 7 and 30 days
    assert usage.features == {"reports": [d0, 1], "alerts": [d0 + 1, 0b11]}
    assert usage.volume == {d0: 5, d0 + 1: 1}
    m = metrics(sim, at(2))
    assert m["active_users_7d"] == 2 and m["features_used_30d"] == 2
    assert m["usage_volume_7d"] == 6


def test_late_event_within_window_is_counted() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    sim.daily_usage(0, 10, 2)
    assert metrics(sim, at(10))["active_users_7d"] == 2
    sim.usage(at(5, 3), "late-user")  # five days late
    assert metrics(sim, at(10))["active_users_7d"] == 3
    assert sim.state.clock == to_ts(at(9, 10))  # the clock did not go back


def test_too_old_event_is_accepted_but_ignored() -> None:
    sim = Sim()
    sim.account(at(100), licensed_seats=10)
    out = sim.usage(at(0), "ancient")  # 100 days before the account's clock
    assert out.applied
    assert sim.state.usage == UsageAggregates()
    assert sim.state.users.get("ancient") is None


def test_usage_metrics_use_completed_days_only() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    sim.daily_usage(0, 3, 4)
    sim.usage(at(3, 5), "today-only")
    # Evaluated on day 3: the window is days 0-2, today's partial day is not in it.
    assert metrics(sim, at(3, 12))["active_users_7d"] == 4
    assert metrics(sim, at(4))["active_users_7d"] == 5


def test_no_usage_metrics_before_a_completed_observed_day() -> None:
    sim = Sim()
    sim.account(at(0, 9), licensed_seats=10)
    m = metrics(sim, at(0, 12))
    assert m["active_users_7d"] is None and m["adoption_ratio"] is None
    m = metrics(sim, at(1))
    assert m["active_users_7d"] == 0 and m["adoption_ratio"] == 0


@pytest.mark.parametrize(
    ("first_event", "evaluated", "observed"),
    [
        (at(0, 9), at(0, 23), 0),  # the first day is not complete yet
        (at(0, 9), at(1), 1),
        (at(0, 23, 59), at(1), 1),  # whole days: a partial first day counts once complete
        (at(0, 9), at(6, 23), 6),
        (at(0, 9), at(7), 7),
        (at(0, 9), at(45, 12), 45),  # since the first event, however silent since
    ],
)
def test_observed_days_are_whole_completed_days_since_the_first_event(
    first_event, evaluated, observed: int
) -> None:
    sim = Sim()
    assert metrics(sim, evaluated)["observed_days"] is None  # nothing seen yet
    sim.ticket(first_event, "T1", "opened", "low")  # any event type starts the history
    assert metrics(sim, evaluated)["observed_days"] == observed


def test_observed_days_move_back_with_a_late_first_event() -> None:
    sim = Sim()
    sim.account(at(3, 9), licensed_seats=10)
    assert metrics(sim, at(5))["observed_days"] == 2
    sim.usage(at(1, 10), "u1")  # late, but within the usage windows
    assert metrics(sim, at(5))["observed_days"] == 4


def test_ticket_folding() -> None:
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    sim.ticket(at(0, 1), "T1", "opened", "high")
    sim.ticket(at(0, 2), "T2", "opened", "urgent")
    sim.ticket(at(0, 3), "T3", "opened", "low")
    sim.ticket(at(0, 4), "T3", "escalated", "high")
    m = metrics(sim, at(0, 5))
    assert m["open_tickets"] == 3
    assert m["open_high_urgent_tickets"] == 3
    assert m["escalations_30d"] == 1
    assert m["oldest_urgent_ticket_age_hours"] == 3
    sim.ticket(at(0, 6), "T2", "resolved", "urgent")
    sim.ticket(at(0, 7), "T1", "closed", "high")
    m = metrics(sim, at(0, 8))
    assert m["open_tickets"] == 1 and m["oldest_urgent_ticket_age_hours"] is None
    # The escalation stays counted for 30 days, then leaves the window.
    assert metrics(sim, at(30, 3))["escalations_30d"] == 1
    assert metrics(sim, at(30, 5))["escalations_30d"] == 0


def test_out_of_order_ticket_events_do_not_reopen() -> None:
    sim = Sim()
    sim.ticket(at(0, 5), "T1", "closed")
    sim.ticket(at(0, 1), "T1", "opened", "urgent")  # arrives late
    assert sim.state.tickets == {}
    sim.ticket(at(0, 6), "T2", "updated", "high")
    sim.ticket(at(0, 4), "T2", "opened", "low")  # older than what we know
    assert sim.state.tickets["T2"].priority == "high"


def test_nps_history_and_latest() -> None:
    sim = Sim()
    sim.nps(at(0), 9)
    sim.nps(at(10), 4)
    sim.nps(at(5), 7)  # late, older than the latest
    m = metrics(sim, at(12))
    assert m["latest_nps"] == 4 and m["days_since_last_nps"] == 2
    assert metrics(sim, at(191))["latest_nps"] is None  # outside the 180-day window


def test_champion_engagement() -> None:
    sim = Sim()
    sim.account(at(0), champion_user_id="champ")
    assert metrics(sim, at(3))["days_since_champion_active"] == 3  # since named champion
    sim.usage(at(4, 10), "champ")
    assert metrics(sim, at(9, 11))["days_since_champion_active"] == 5
    sim.usage(at(9, 12), "other")
    sim.account(at(9, 13), champion_user_id="other")
    assert metrics(sim, at(10, 13))["days_since_champion_active"] == 1


def test_prune_keeps_state_bounded() -> None:
    rules = default_rules()
    sim = Sim()
    sim.account(at(0), licensed_seats=10)
    for d in range(100):
        sim.usage(at(d, 10), f"user-{d}")
    sim.advance(at(100, 1))
    usage = sim.state.usage
    days = sorted(usage.volume)
    assert days[-1] - days[0] <= rules.retention.usage_days
    assert usage.newest is not None
    assert min(usage.last_active) >= usage.newest - 29 and len(usage.last_active) <= 30
    assert min(usage.closed) >= usage.newest - 57 and len(usage.closed) <= 57
    # Past 34 days only the 7-day count is kept (its 30-day window leaves the users' masks).
    assert all(m == 0 for d, (_, m) in usage.closed.items() if d < usage.newest - 34)
    assert all(m > 0 for d, (_, m) in usage.closed.items() if d >= usage.newest - 34)
    assert len(sim.state.seen.usage) <= 3 * 24  # two days of event time, pruned daily


def test_state_round_trips_through_the_codec() -> None:
    sim = Sim()
    sim.account(
        at(0),
        segment="enterprise",
        licensed_seats=10,
        champion_user_id="user-0",
        csm_id="c",
        renewal_date="2026-05-01",
        contract_start="2025-01-01",
    )
    sim.daily_usage(0, 10, 6, features=("dashboards", "reports"))
    sim.ticket(at(10, 1), "T1", "escalated", "urgent")
    sim.nps(at(10, 2), 3)
    raw = encode_state(sim.state)
    restored = decode_state(raw).state
    assert encode_state(restored) == raw
    restored.users = sim.state.users  # user records live in their own store
    # And the restored state behaves the same going forward.
    twin = Sim()
    twin.state = restored
    sim.advance(at(20))
    twin.advance(at(20))
    assert [t.model_dump() for t in twin.tasks] == [
        t.model_dump() for t in sim.tasks if t.occurred_at and t.occurred_at > at(10, 2)
    ]


def test_new_state_is_empty() -> None:
    state = new_state("a")
    assert state.account_id == "a" and state.tasks == {} and state.usage == UsageAggregates()
    assert isinstance(state.users, DictUserStore) and not state.users
