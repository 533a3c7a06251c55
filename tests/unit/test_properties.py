"""Property tests: determinism, idempotent redelivery, independence of accounts, restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.models import (
    AccountEvent,
    ActivityEvent,
    AnyInbound,
    MilestoneEvent,
    NpsEvent,
    TicketEvent,
    UsageEvent,
)
from workers.core import engine
from workers.core.codec import decode_state, encode_state
from workers.core.engine import advance_to, apply_event, new_state, next_due
from workers.core.state import AccountState
from workers.core.testing import T0, default_rules, rules_with

RULES = default_rules()
FEATURES = ["dashboards", "reports", "alerts", "integrations", "automation", "exports", "x"]
USERS = [f"u{i}" for i in range(8)]
END = T0 + timedelta(days=45)

minutes = st.integers(min_value=0, max_value=40 * 24 * 60)


def _usage(**kw: Any) -> UsageEvent:
    return UsageEvent(**kw)


usage_fields = st.fixed_dictionaries(
    {
        "user_id": st.sampled_from(USERS),
        "feature": st.sampled_from(FEATURES),
        "quantity": st.integers(1, 3),
    }
).map(lambda d: ("usage", d))
ticket_fields = st.fixed_dictionaries(
    {
        "ticket_id": st.sampled_from(["T1", "T2", "T3", "T4"]),
        "status": st.sampled_from(["opened", "updated", "escalated", "resolved", "closed"]),
        "priority": st.sampled_from(["low", "normal", "high", "urgent"]),
    }
).map(lambda d: ("ticket", d))
nps_fields = st.fixed_dictionaries({"score": st.integers(0, 10)}).map(lambda d: ("nps", d))
account_fields = st.fixed_dictionaries(
    {},
    optional={
        "segment": st.sampled_from(["enterprise", "mid_market", "smb"]),
        "licensed_seats": st.integers(0, 12),
        "csm_id": st.sampled_from(["csm-1", "csm-2"]),
        "champion_user_id": st.sampled_from(USERS[:3]),
        "renewal_date": st.integers(20, 120).map(lambda d: (T0 + timedelta(days=d)).date()),
        "contract_start": st.integers(-90, 0).map(lambda d: (T0 + timedelta(days=d)).date()),
    },
).map(lambda d: ("account", d))

ACTIVITY_IDS = ["A1", "A2", "A3", "A4"]
activity_fields = st.fixed_dictionaries(
    {
        "activity_id": st.sampled_from(ACTIVITY_IDS),
        "kind": st.sampled_from(["email", "email", "call", "meeting", "qbr", "note"]),
        "direction": st.sampled_from(["outbound", "outbound", "inbound"]),
        "csm_id": st.just("csm-1"),
    },
    optional={
        "in_reply_to": st.sampled_from(ACTIVITY_IDS),
        # minutes after occurred_at (see build): a booking when positive
        "scheduled_in": st.integers(-60, 12 * 24 * 60),
    },
).map(lambda d: ("activity", d))
milestone_fields = st.fixed_dictionaries(
    {
        "plan_id": st.sampled_from(["p1", "p2"]),
        "milestone_id": st.sampled_from(["m1", "m2", "m3"]),
        "title": st.just("Milestone"),
        "phase": st.sampled_from(["onboard", "adopt"]),
        "due_date": st.integers(-5, 40).map(lambda d: (T0 + timedelta(days=d)).date()),
        "status": st.sampled_from(["planned", "in_progress", "done", "blocked"]),
    }
).map(lambda d: ("milestone", d))

MODELS: dict[str, Any] = {
    "usage": UsageEvent,
    "ticket": TicketEvent,
    "nps": NpsEvent,
    "account": AccountEvent,
    "activity": ActivityEvent,
    "milestone": MilestoneEvent,
}

event_specs = st.lists(
    st.tuples(
        minutes,
        st.one_of(
            usage_fields,
            usage_fields,
            usage_fields,
            ticket_fields,
            nps_fields,
            account_fields,
            activity_fields,
            activity_fields,
            milestone_fields,
        ),
    ),
    min_size=1,
    max_size=60,
)


def build(account_id: str, specs: list[tuple[int, tuple[str, dict]]]) -> list[AnyInbound]:
    events = []
    for i, (minute, (kind, fields)) in enumerate(specs):
        when = T0 + timedelta(minutes=minute)
        fields = dict(fields)
        if "scheduled_in" in fields:
            fields["scheduled_for"] = when + timedelta(minutes=fields.pop("scheduled_in"))
        events.append(
            MODELS[kind](
                event_id=f"{account_id}-{i}",
                account_id=account_id,
                occurred_at=when,
                **fields,
            )
        )
    return events


def run(events: list[AnyInbound], finish: bool = True) -> dict[str, list[dict]]:
    """Apply events in order (per account state); outputs per account as plain dicts."""
    states: dict[str, AccountState] = {}
    out: dict[str, list[dict]] = {}
    for ev in events:
        state = states.setdefault(ev.account_id, new_state(ev.account_id))
        res = apply_event(state, ev, RULES)
        bucket = out.setdefault(ev.account_id, [])
        bucket.extend(h.model_dump(mode="json") for h in res.health)
        bucket.extend(t.model_dump(mode="json") for t in res.tasks)
    if finish:
        for account_id, state in sorted(states.items()):
            res = advance_to(state, END, RULES)
            out[account_id].extend(t.model_dump(mode="json") for t in res.tasks)
            out[account_id].extend(h.model_dump(mode="json") for h in res.health)
    return out


SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(event_specs)
def test_replay_gives_identical_outputs_and_task_ids(specs: list) -> None:
    events = build("acc-a", specs)
    first = run(events)
    second = run(build("acc-a", specs))
    assert first == second
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


@SETTINGS
@given(event_specs, st.data())
def test_every_event_delivered_twice_gives_the_same_outputs(specs: list, data) -> None:
    events = build("acc-a", specs)
    once = run(events)
    # Each event redelivered right after itself...
    adjacent = [e for ev in events for e in (ev, ev)]
    assert run(adjacent) == once
    # ...or the whole stream replayed after a crash, from an arbitrary offset.
    cut = data.draw(st.integers(0, len(events)))
    assert run(events[:cut] + events + events[cut:]) == once


@SETTINGS
@given(event_specs, event_specs, st.data())
def test_accounts_interleaved_in_any_order_give_the_same_per_account_outputs(
    specs_a: list, specs_b: list, data
) -> None:
    a, b = build("acc-a", specs_a), build("acc-b", specs_b)
    separate = {**run(a), **run(b)}
    picks = data.draw(st.lists(st.booleans(), min_size=len(a) + len(b), max_size=len(a) + len(b)))
    merged, ia, ib = [], 0, 0
    for pick_a in picks:
        if (pick_a and ia < len(a)) or ib >= len(b):
            merged.append(a[ia])
            ia += 1
        else:
            merged.append(b[ib])
            ib += 1
    assert run(merged) == separate


@SETTINGS
@given(event_specs, st.data())
def test_restoring_state_from_its_encoding_mid_stream_changes_nothing(specs: list, data) -> None:
    events = build("acc-a", specs)
    expected = run(events)
    cut = data.draw(st.integers(0, len(events)))
    state = new_state("acc-a")
    outputs: list[dict] = []
    for i, ev in enumerate(events):
        if i == cut:
            users = state.users
            state = decode_state(encode_state(state)).state
            state.users = users  # the shell keeps user records in their own store
        res = apply_event(state, ev, RULES)
        outputs.extend(h.model_dump(mode="json") for h in res.health)
        outputs.extend(t.model_dump(mode="json") for t in res.tasks)
    res = advance_to(state, END, RULES)
    outputs.extend(t.model_dump(mode="json") for t in res.tasks)
    outputs.extend(h.model_dump(mode="json") for h in res.health)
    assert outputs == expected["acc-a"]


@SETTINGS
@given(event_specs)
def test_lifecycle_invariants(specs: list) -> None:
    """At most one open task per playbook; resolved/updated only for an open task; ids unique
    per episode; scores within 20-100."""
    out = run(build("acc-a", specs))["acc-a"]
    open_by_playbook: dict[str, str] = {}
    seen_ids: set[str] = set()
    for msg in out:
        if "task_id" not in msg:
            assert 20 <= msg["score"] <= 100
            continue
        pb, tid = msg["playbook"], msg["task_id"]
        if msg["action"] == "opened":
            assert pb not in open_by_playbook
            assert tid not in seen_ids
            open_by_playbook[pb] = tid
            seen_ids.add(tid)
        else:
            assert open_by_playbook.get(pb) == tid
            if msg["action"] == "resolved":
                del open_by_playbook[pb]


@SETTINGS
@given(event_specs)
def test_no_usage_or_adoption_verdict_during_the_warmup(specs: list) -> None:
    """Before `warmup_days` whole days since the first event no score uses usage or adoption,
    and low_adoption never opens before `min_observed_days`."""
    events = build("acc-a", specs)
    first_day = min(e.occurred_at for e in events).replace(hour=0, minute=0, second=0)
    warm = first_day + timedelta(days=RULES.health.warmup_days)
    low = RULES.compiled.by_kind["low_adoption"][0].params
    observed = first_day + timedelta(days=low.min_observed_days)
    for msg in run(events)["acc-a"]:
        if "task_id" not in msg:
            if datetime.fromisoformat(msg["computed_at"]) < warm:
                assert {"usage", "adoption"} <= set(msg["components_missing"])
        elif msg["playbook"] == "low_adoption" and msg["action"] == "opened":
            assert datetime.fromisoformat(msg["created_at"]) >= observed


# Rules whose time thresholds are short enough to be crossed inside a generated stream, and
# conditions on every time-dependent metric, so skipped boundaries would show.
TIMED_RULES = rules_with(
    playbooks={
        "nps_detractor": {"cooldown": "2d", "params": {"resolve_after": "3d"}},
        "health_at_risk": {"cooldown": "1d", "params": {"resolve_weeks": 0.5}},
        "health_critical": {"cooldown": "30h", "params": {"resolve_weeks": 0.3}},
        "champion_silent": {"cooldown": "1d", "params": {"max_inactive_days": 2}},
        "support_escalation": {"cooldown": "5h"},
        "urgent_aging": {
            "condition": "oldest_urgent_ticket_age_hours > 30",
            "priority": "high",
            "owner_role": "csm",
            "sla": "1d",
            "cooldown": "3h",
        },
        "nps_and_escalations": {
            "condition": "days_since_last_nps >= 2 and escalations_30d >= 1",
            "resolve_when": "latest_nps >= 0 and days_since_champion_active >= 1",
            "priority": "medium",
            "owner_role": "csm",
            "sla": "2d",
            "cooldown": "1d",
        },
        "cadence_overdue": {"cooldown": "20h"},
        "qbr_due": {"cooldown": "1d", "params": {"due_within_days": 2}},
        "customer_unresponsive": {"cooldown": "10h", "params": {"unanswered_days": 1}},
        "milestone_overdue": {"cooldown": "1d"},
        "onboarding_stalled": {"cooldown": "1d", "params": {"target_days": 3}},
        # every time-dependent engagement metric in a condition
        "slow_replies": {
            "condition": "days_since_last_inbound >= 1 and median_reply_hours >= 0",
            "resolve_when": "replies_on_time_ratio >= 0 and open_outreach_days >= 1",
            "priority": "medium",
            "owner_role": "csm",
            "sla": "1d",
            "cooldown": "5h",
        },
        "quiet_book": {
            "condition": "qbrs_held_365d >= 1 and days_since_last_touch >= 2",
            "resolve_when": "days_to_next_touch >= 1 and days_to_booked_qbr >= 0",
            "priority": "low",
            "owner_role": "csm",
            "sla": "1d",
            "cooldown": "4h",
        },
    },
    health={
        "support": {"window": "3d"},
        "satisfaction": {"window": "4d"},
        "engagement": {"window": "3d", "responsive_within_days": 1, "unresponsive_after_days": 2},
    },
    engagement={"checkin_every": "2d", "qbr_every": "5d", "booking_grace_days": 1},
)


def _run_with_ticks(rules: Any, events: list[AnyInbound], ticks: list[int]) -> tuple[Any, ...]:
    state = new_state("acc-a")
    outputs: list[dict] = []
    for ev, tick in zip(events, ticks, strict=True):
        res = apply_event(state, ev, rules)
        res.extend(advance_to(state, ev.occurred_at + timedelta(minutes=tick), rules))
        outputs.extend(h.model_dump(mode="json") for h in res.health)
        outputs.extend(t.model_dump(mode="json") for t in res.tasks)
    res = advance_to(state, END, rules)
    outputs.extend(t.model_dump(mode="json") for t in res.tasks)
    outputs.extend(h.model_dump(mode="json") for h in res.health)
    return outputs, encode_state(state), sorted(state.users.items())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_specs, st.data(), st.booleans())
def test_skipping_quiet_boundaries_changes_nothing(specs: list, data, timed: bool) -> None:
    """Boundaries skipped after an evaluation that changed nothing (engine._quiet_until) give
    exactly the outputs and state of evaluating every boundary."""
    rules = TIMED_RULES if timed else RULES
    events = sorted(build("acc-a", specs), key=lambda e: e.occurred_at)
    if data.draw(st.booleans()):
        events = build("acc-a", specs)  # out of order too
    ticks = data.draw(st.lists(st.integers(0, 5 * 24 * 60), min_size=len(events)))[: len(events)]
    ticks += [0] * (len(events) - len(ticks))
    skipped = _run_with_ticks(rules, events, ticks)
    with mock.patch.object(engine, "_quiet_until", lambda state, now, rules, plan: now):
        every = _run_with_ticks(rules, events, ticks)
    assert skipped == every


def _run_scheduled(
    rules: Any, events: list[AnyInbound], ticks: list[int], every_boundary: bool
) -> tuple[Any, ...]:
    """Events in order, the clock advanced `tick` minutes past each one: either at every
    hourly boundary, or only at the times `next_due` names."""
    state = new_state("acc-a")
    outputs: list[dict] = []
    reached = T0 - timedelta(days=1)

    def advance(target: datetime) -> None:
        nonlocal reached
        if every_boundary:
            hour = max(reached, T0 - timedelta(days=1)).replace(minute=0, second=0)
            while hour <= target:
                if hour > reached:
                    collect(advance_to(state, hour, rules))
                hour += timedelta(hours=1)
        else:
            while (due := next_due(state, rules)) is not None and due <= target.timestamp():
                out = advance_to(state, datetime.fromtimestamp(due, UTC), rules)
                collect(out)
                assert next_due(state, rules) != due  # progress
        reached = max(reached, target)

    def collect(res: engine.Outcome) -> None:
        outputs.extend(h.model_dump(mode="json") for h in res.health)
        outputs.extend(t.model_dump(mode="json") for t in res.tasks)

    for ev, tick in zip(events, ticks, strict=True):
        if not every_boundary and next_due(state, rules) is not None:
            # The scheduler brings an account it is about to touch to the clock first: the
            # boundaries before next_due are skipped without evaluation (no output), and a
            # late event is evaluated at the same time as after evaluating every boundary.
            caught_up = advance_to(state, reached, rules)
            assert caught_up.tasks == [] and caught_up.health == []
        collect(apply_event(state, ev, rules))
        advance(ev.occurred_at + timedelta(minutes=tick))
    advance(END)
    final = advance_to(state, END, rules)
    return outputs, final.tasks + final.health, encode_state(state)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event_specs, st.data(), st.booleans())
def test_advancing_only_when_next_due_gives_the_same_outputs(
    specs: list, data, timed: bool
) -> None:
    """A scheduler that advances an account only at `next_due` misses nothing that
    advancing it at every hourly boundary would publish, and ends in the same state."""
    rules = TIMED_RULES if timed else RULES
    events = sorted(build("acc-a", specs), key=lambda e: e.occurred_at)
    if data.draw(st.booleans()):
        events = build("acc-a", specs)  # out of order too
    ticks = data.draw(st.lists(st.integers(0, 5 * 24 * 60), min_size=len(events)))[: len(events)]
    ticks += [0] * (len(events) - len(ticks))
    scheduled = _run_scheduled(rules, events, ticks, every_boundary=False)
    every = _run_scheduled(rules, events, ticks, every_boundary=True)
    assert scheduled[0] == every[0]
    assert scheduled[1] == [] and every[1] == []
    assert scheduled[2] == every[2]


def test_next_due_is_none_before_the_first_event_and_skips_quiet_hours() -> None:
    state = new_state("acc-a")
    assert next_due(state, RULES) is None
    apply_event(
        state,
        UsageEvent(
            event_id="u1",
            account_id="acc-a",
            occurred_at=T0 + timedelta(hours=9, minutes=30),
            user_id="u0",
            feature="reports",
        ),
        RULES,
    )
    assert next_due(state, RULES) == (T0 + timedelta(hours=10)).timestamp()
    assert advance_to(state, T0 + timedelta(hours=10), RULES).health  # the first score
    assert next_due(state, RULES) == (T0 + timedelta(hours=11)).timestamp()
    advance_to(state, T0 + timedelta(hours=11), RULES)
    # Nothing changed at 11:00 and nothing will before the day ends.
    assert state.quiet is not None
    assert next_due(state, RULES) == (T0 + timedelta(days=1)).timestamp()
