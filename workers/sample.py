"""The bundled demo sample: a deterministic, realistic book of accounts.

`generate_sample()` builds eight weeks of events for ~120 accounts whose stories exercise the
whole health model and trigger catalogue of DOMAIN.md: steady healthy accounts, expansion
candidates, usage drops (some recovering), accounts that go dark, silent champions, detractors,
support escalations, low adoption, accounts sliding from healthy to at risk to critical (some
recovering), new customers whose onboarding goes wrong from the start, renewals approaching (and
a few renewing), plus a handful of duplicate deliveries.

Determinism is the point: a seeded `random.Random`, fixed dates and no wall clock, so the demo,
the docs and the tests all see the very same events (and therefore the very same tasks).

The first account event of every account carries an extra `sample_archetype` field naming its
story. The contract ignores unknown fields, so the workers never see it; `describe_sample` and
the tests use it as ground truth.

    python -m workers.sample --out sample.jsonl [--accounts N --weeks W --seed S]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

CORE_FEATURES: tuple[str, ...] = (
    "dashboards",
    "reports",
    "alerts",
    "integrations",
    "automation",
    "exports",
)
NON_CORE_FEATURES: tuple[str, ...] = ("settings", "search", "comments")
# Must match `health.core_features` in config/rules.yaml: adoption is measured against it.
SAMPLE_FEATURES: dict[str, tuple[str, ...]] = {
    "core": CORE_FEATURES,
    "non_core": NON_CORE_FEATURES,
}

# feature -> (relative weight, min quantity, max quantity). One usage event aggregates a burst
# of actions (`quantity`), which keeps the volume replayable in well under a minute.
_FEATURE_MIX: dict[str, tuple[int, int, int]] = {
    "dashboards": (26, 1, 12),
    "reports": (15, 1, 5),
    "alerts": (10, 1, 8),
    "integrations": (8, 1, 20),
    "automation": (8, 1, 10),
    "exports": (8, 1, 3),
    "settings": (5, 1, 2),
    "search": (11, 1, 6),
    "comments": (9, 1, 4),
}
# Low adoption: one core feature (1/6 = 17% < 30%) plus the non-core ones.
_LOW_ADOPTION_MIX: dict[str, int] = {"dashboards": 40, "settings": 15, "search": 25, "comments": 20}
# A stalled onboarding: the pilot group sticks to dashboards, reports and the integration being
# set up (at most 3 of 6 core features, at most 50%: the adoption component is never good).
_ONBOARDING_MIX: dict[str, int] = {
    "dashboards": 35,
    "integrations": 20,
    "reports": 10,
    "settings": 15,
    "search": 10,
    "comments": 10,
}

# Events per active user-day (1-4, mostly 1-2): realistic bursts without a flood of lines.
_EVENTS_PER_DAY = (1, 2, 3, 4)
_EVENTS_PER_DAY_WEIGHTS = (70, 22, 6, 2)

SEGMENTS = ("enterprise", "mid_market", "smb")
# Cycling through this for the k-th account of each archetype mixes every archetype with 3+
# accounts across all three segments, and gives a realistic book (~14% enterprise).
_SEGMENT_CYCLE = ("mid_market", "smb", "enterprise", "smb", "mid_market", "smb", "mid_market")
# Users have habits: each works in the tool on a few fixed weekdays (the Monday report, the
# Thursday review) and rarely otherwise. Habits keep weekly-active counts as steady as they
# are in real products, so week-over-week drops in the sample are the stories, not noise,
# while the daily volume stays low. Small teams live in the tool; enterprises have more
# occasional users. Weekly-active users land at ~70-90% of seats.
_HABIT_DAYS = {
    "enterprise": (1, 1, 1, 1, 2),
    "mid_market": (1, 1, 2, 2, 3),
    "smb": (2, 2, 3, 3, 4),
    "expansion": (2, 3, 3, 4),
}
_ON_HABIT, _OFF_HABIT, _WEEKEND = 0.85, 0.04, 0.02
# The champion is the account's admin: in the tool nearly every workday, so a silent champion
# is a real signal, never a coincidence.
_CHAMPION_WEEK = (0.9, 0.9, 0.9, 0.9, 0.9, 0.05, 0.02)
_ARR_PER_SEAT = {"enterprise": (700, 1200), "mid_market": (450, 750), "smb": (250, 500)}
# UTC offsets of the accounts' working hours (Americas and Europe).
_TZ_OFFSETS = (-7, -6, -5, -4, 0, 1, 1, 2)

CSMS = (
    "csm-ana",
    "csm-ben",
    "csm-chloe",
    "csm-dev",
    "csm-elena",
    "csm-farid",
    "csm-grace",
    "csm-hiro",
)

_NAME_STEMS = (
    "Aldergrove", "Bluefin", "Brightwater", "Cobalt", "Driftwood", "Evergreen", "Foxglove",
    "Granite", "Harborview", "Ironbark", "Juniper", "Keystone", "Lighthouse", "Meridian",
    "Northwind", "Oakridge", "Pinecrest", "Quarryhill", "Redwood", "Silverline", "Tidewater",
    "Summitview", "Willowbrook", "Zephyr",
)  # fmt: skip
_NAME_TRADES = (
    "Logistics", "Health", "Foods", "Labs", "Analytics", "Retail", "Energy", "Media",
    "Capital", "Robotics", "Travel", "Insurance", "Telecom", "Studios", "Freight", "Clinics",
)  # fmt: skip

_TICKET_SUBJECTS = (
    "Report export times out",
    "SSO login loop for some users",
    "Dashboard widgets show stale data",
    "Integration sync failing with 429",
    "Question about automation limits",
    "Alert emails delayed",
    "How do I bulk-invite users?",
    "CSV import rejects dates",
    "Billing contact change",
    "Permissions for read-only role",
)
_ESCALATION_SUBJECTS = (
    "Production outage: integration sync down",
    "Data missing from executive dashboard",
    "All alerts stopped firing",
    "API errors blocking month-end close",
)
_DETRACTOR_COMMENTS = (
    "Too many bugs lately and support is slow.",
    "The product got harder to use after the last release.",
    "We are not getting the value we were promised.",
    "Reporting is unreliable; we export to spreadsheets instead.",
)
_PROMOTER_COMMENTS = (
    "Great team, the product keeps getting better.",
    "Automation saves us hours every week.",
    "The new dashboards are exactly what we needed.",
)

# (archetype, share of the book). "healthy" takes whatever is left.
_PLAN: tuple[tuple[str, float], ...] = (
    ("expansion", 0.09),
    ("declining", 0.042),
    ("declining_recovers", 0.042),
    ("usage_stops", 0.05),
    ("silent_champion", 0.035),
    ("silent_champion_returns", 0.035),
    ("detractor", 0.042),
    ("detractor_then_promoter", 0.042),
    ("escalation", 0.085),
    ("low_adoption", 0.067),
    ("sliding", 0.05),
    ("sliding_recovers", 0.035),
)
# Stories told by accounts taken from the healthy pool *after* the book is drawn, each re-rolled
# from its own seeded generator: every other account stays exactly as it was.
#   troubled_onboarding: a brand-new customer signs mid-sample. Only a small pilot group ever
#   logs in and an integration blocker is escalated right after the warm-up, so its first real
#   score is already at risk (no fall "from above": health_at_risk stays quiet) and the
#   escalation takes it below 50: health_critical opens as a task of its own.
_CONVERTED: tuple[tuple[str, float], ...] = (("troubled_onboarding", 0.035),)
ARCHETYPES: tuple[str, ...] = (
    "healthy",
    *(name for name, _ in _PLAN),
    *(name for name, _ in _CONVERTED),
)
# Stories that need a team of at least ~10 users so that "the earlier week had >= 5 active
# users" holds and the fractions below are visible.
_NEEDS_TEAM = {
    "declining",
    "declining_recovers",
    "usage_stops",
    "sliding",
    "sliding_recovers",
    "troubled_onboarding",
}

_TYPE_RANK = {"account": 0, "ticket": 1, "nps": 2, "usage": 3}
_ID_TAG = {"account": "a", "ticket": "t", "nps": "n", "usage": "u"}
_DAY = 86_400


@dataclass
class _Account:
    index: int
    account_id: str
    archetype: str
    segment: str
    seats: int
    arr: float
    csm_id: str
    tz: int
    users: list[str]
    week_p: list[tuple[float, ...]]  # per user: activity probability for each weekday
    # Per user: half-open [from_day, to_day) intervals in which the user does nothing.
    off: list[list[tuple[int, int]]]
    contract_start: date
    renewal_date: date
    name: str = ""
    champion: int = 0  # index into users
    low_adoption: bool = False
    stop_day: int | None = None  # usage_stops: nothing at all from this day on
    first_day: int = 0  # troubled_onboarding: the customer (and all its events) starts this day
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def champion_id(self) -> str:
        return self.users[self.champion]


class _Builder:
    """Collects raw events; ids and timestamps are assigned once everything is sorted."""

    def __init__(self, start: date, n_days: int) -> None:
        self.start = start
        self.n_days = n_days
        self.end_sec = n_days * _DAY
        self.raw: list[tuple[int, int, int, int, str, dict[str, Any]]] = []
        self.seq = 0

    def add(self, sec: int, kind: str, account: _Account, fields: dict[str, Any]) -> None:
        # Events past the end of the sample (a ticket closing next month) simply have not
        # happened yet; an account that stopped sends nothing any more.
        if sec < 0 or sec >= self.end_sec:
            return
        if account.stop_day is not None and kind != "account" and sec >= account.stop_day * _DAY:
            return
        if kind != "account" and sec < account.first_day * _DAY:
            return  # not a customer yet
        self.seq += 1
        self.raw.append((sec, _TYPE_RANK[kind], account.index, self.seq, kind, fields))


def _plan_counts(accounts: int) -> list[str]:
    labels: list[str] = []
    for name, share in _PLAN:
        wanted = max(1, round(share * accounts)) if accounts >= 30 else round(share * accounts)
        labels.extend([name] * wanted)
    labels = labels[:accounts]
    labels.extend(["healthy"] * (accounts - len(labels)))
    return labels


def _work_hour_sec(rng: random.Random, day: int, tz: int) -> int:
    # Local working hours 08:00-18:00 shifted to UTC.
    return day * _DAY + (8 - tz) * 3600 + rng.randrange(10 * 3600)


def _is_off(acc: _Account, user: int, day: int) -> bool:
    return any(a <= day < b for a, b in acc.off[user])


def _pick(rng: random.Random, population: Sequence[int], share: float) -> list[int]:
    k = max(1, round(len(population) * share))
    return rng.sample(list(population), min(k, len(population)))


def _make_account(
    rng: random.Random,
    index: int,
    archetype: str,
    segment: str,
    start: date,
    n_days: int,
    id_width: int,
    names: set[str],
) -> _Account:
    account_id = f"acc-{index + 1:0{id_width}d}"
    if segment == "enterprise":
        seats = int(rng.triangular(80, 280, 80))
    elif segment == "mid_market":
        seats = int(rng.triangular(25, 80, 35))
    else:
        seats = rng.randint(14 if archetype in _NEEDS_TEAM else 5, 25)

    lo, hi = _ARR_PER_SEAT[segment]
    arr = float(round(seats * rng.uniform(lo, hi), -2))

    if archetype == "expansion":
        n_users = seats  # every seat is assigned: they are about to need more
    else:
        # Below 90% of seats by construction, so ordinary accounts never look like
        # expansion candidates by chance.
        cap = math.ceil(0.9 * seats) - 1
        n_users = max(3, min(cap, round(seats * rng.uniform(0.78, 0.92))))
    users = [f"{account_id}-user-{k:03d}" for k in range(1, n_users + 1)]
    habits = _HABIT_DAYS["expansion" if archetype == "expansion" else segment]
    if n_users < 12:
        # In a tiny team one absent user is a 15-20% drop: steadier habits keep the
        # week-over-week signal for real stories.
        habits = tuple(min(5, h + 1) for h in habits)
    week_p: list[tuple[float, ...]] = []
    for _ in users:
        days = rng.sample(range(5), rng.choice(habits))
        week = [_ON_HABIT if d in days else _OFF_HABIT for d in range(5)]
        week_p.append((*week, _WEEKEND, _WEEKEND))
    champion = rng.randrange(min(3, n_users))
    week_p[champion] = _CHAMPION_WEEK

    name = ""
    while not name or name in names:
        name = f"{rng.choice(_NAME_STEMS)} {rng.choice(_NAME_TRADES)}"
        if len(names) >= len(_NAME_STEMS) * len(_NAME_TRADES):
            name = f"{name} {index + 1}"
    names.add(name)

    # Renewal far beyond the horizon by default (more than 90 days after the sample ends);
    # the renewal stories are assigned afterwards.
    renewal = start + timedelta(days=n_days + 95 + rng.randrange(300))
    contract_start = _contract_start(rng, renewal, start)

    return _Account(
        index=index,
        account_id=account_id,
        archetype=archetype,
        segment=segment,
        seats=seats,
        arr=arr,
        csm_id=rng.choice(CSMS),
        tz=rng.choice(_TZ_OFFSETS),
        users=users,
        week_p=week_p,
        off=[[] for _ in users],
        contract_start=contract_start,
        renewal_date=renewal,
        name=name,
        champion=champion,
    )


def _contract_start(rng: random.Random, renewal: date, start: date) -> date:
    """A start whole contract years before the renewal, and at least a month before the sample."""
    years = rng.randint(1, 3)
    while renewal - timedelta(days=365 * years) > start - timedelta(days=30):
        years += 1
    return renewal - timedelta(days=365 * years)


def _shape_story(rng: random.Random, acc: _Account, n_days: int) -> None:
    """Turn the archetype into user availability, a feature mix and story dates."""
    scale = n_days / 56  # the stories are written for 8 weeks and stretch with `weeks`

    def day(x: float) -> int:
        return max(0, min(n_days - 1, round(x * scale)))

    others = [u for u in range(len(acc.users)) if u != acc.champion]
    kind = acc.archetype

    if kind == "expansion":
        # A fifth of the seats are onboarded during weeks 1-3: usage climbs past 90%.
        for u in _pick(rng, others, 0.2):
            acc.off[u].append((0, day(rng.uniform(5, 20))))
        if acc.extra.get("buys_seats"):
            acc.extra["seat_day"] = day(rng.uniform(38, 44))
    elif kind in ("declining", "declining_recovers"):
        drop = day(rng.uniform(14, 24))
        back = drop + day(rng.uniform(14, 20)) if kind == "declining_recovers" else n_days
        for u in _pick(rng, others, rng.uniform(0.5, 0.62)):
            acc.off[u].append((drop, back))
        acc.extra.update(drop_day=drop, back_day=back)
    elif kind == "usage_stops":
        acc.stop_day = day(rng.uniform(18, 35))
    elif kind in ("silent_champion", "silent_champion_returns"):
        quiet = day(rng.uniform(8, 20))
        back = quiet + day(rng.uniform(13, 19)) if kind.endswith("returns") else n_days
        acc.off[acc.champion].append((quiet, back))
        acc.extra.update(quiet_day=quiet, back_day=back)
    elif kind == "low_adoption":
        acc.low_adoption = True
        if acc.extra["nth"] % 2:
            # A recent customer: the 60-days-after-contract check falls inside the sample.
            acc.contract_start = _start_of(acc) - timedelta(days=rng.randint(30, 50))
            acc.renewal_date = acc.contract_start + timedelta(days=365)
    elif kind in ("sliding", "sliding_recovers"):
        jitter = rng.randint(-2, 2)
        p2, p3 = day(14 + jitter), day(24 + jitter)
        recover = day(36 + jitter) if kind == "sliding_recovers" else n_days
        first = _pick(rng, others, 0.55)
        rest = [u for u in others if u not in first]
        second = _pick(rng, rest, 0.6) if rest else []
        for u in first:
            acc.off[u].append((p2, recover))
        for u in second:
            acc.off[u].append((p3, recover))
        acc.off[acc.champion].append((p2 - 1, recover))
        acc.extra.update(p2=p2, p3=p3, recover=recover)
    elif kind == "troubled_onboarding":
        # Signs mid-sample; a pilot group of 12-20% of the seats (the champion included) is all
        # that ever logs in: usage stays below 25% of seats, critical once the warm-up is over.
        onboard = day(rng.uniform(14, 26))
        acc.first_day = onboard
        acc.contract_start = _start_of(acc) + timedelta(days=onboard)
        acc.renewal_date = acc.contract_start + timedelta(days=365)
        size = max(2, math.floor(acc.seats * rng.uniform(0.12, 0.2)))
        pilot = set(rng.sample(others, min(len(others), size - 1)))
        for u in others:
            if u not in pilot:
                acc.off[u].append((0, n_days))
        acc.extra.update(onboard_day=onboard, pilot=sorted(pilot), mix=_ONBOARDING_MIX)


def _start_of(acc: _Account) -> date:
    return acc.extra["start"]


def _usage(rng: random.Random, b: _Builder, acc: _Account) -> None:
    if acc.low_adoption:
        features = list(_LOW_ADOPTION_MIX)
        weights = list(_LOW_ADOPTION_MIX.values())
    elif "mix" in acc.extra:
        features = list(acc.extra["mix"])
        weights = list(acc.extra["mix"].values())
    else:
        features = list(_FEATURE_MIX)
        weights = [w for w, _, _ in _FEATURE_MIX.values()]
    cum = _cumulative(weights)
    for d in range(acc.first_day, b.n_days):
        if acc.stop_day is not None and d >= acc.stop_day:
            break
        weekday = (b.start + timedelta(days=d)).weekday()
        for u, user in enumerate(acc.users):
            if rng.random() >= acc.week_p[u][weekday] or (acc.off[u] and _is_off(acc, u, d)):
                continue
            n = rng.choices(_EVENTS_PER_DAY, _EVENTS_PER_DAY_WEIGHTS)[0]
            for _ in range(n):
                feature = rng.choices(features, cum_weights=cum)[0]
                _, q_lo, q_hi = _FEATURE_MIX[feature]
                b.add(
                    _work_hour_sec(rng, d, acc.tz),
                    "usage",
                    acc,
                    {"user_id": user, "feature": feature, "quantity": rng.randint(q_lo, q_hi)},
                )


def _cumulative(weights: Sequence[int]) -> list[int]:
    total, out = 0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _ticket(
    b: _Builder,
    acc: _Account,
    steps: Iterable[tuple[int, str, str]],
    subject: str,
) -> None:
    """One ticket's lifecycle: (second, status, priority) steps in increasing time."""
    acc.extra["tickets"] = acc.extra.get("tickets", 0) + 1
    # Provisional id, renumbered by opening time in `_finish`.
    ticket_id = f"{acc.account_id}-draft-{acc.extra['tickets']}"
    last = -1
    for sec, status, priority in steps:
        sec = max(sec, last + 60)  # a lifecycle never goes back in time
        fields: dict[str, Any] = {"ticket_id": ticket_id, "status": status, "priority": priority}
        if status == "opened":
            fields["subject"] = subject
        b.add(sec, "ticket", acc, fields)
        last = sec


def _tickets(rng: random.Random, b: _Builder, acc: _Account) -> None:
    n_days = b.n_days
    scale = n_days / 56
    hours = 3600
    if acc.archetype == "troubled_onboarding":
        _onboarding_tickets(rng, b, acc)
        return
    # Background support: routine tickets, opened -> (updated) -> resolved -> closed.
    count = {"smb": rng.randint(0, 2), "mid_market": rng.randint(1, 3)}.get(
        acc.segment, rng.randint(2, 5)
    )
    for _ in range(count):
        opened = _work_hour_sec(rng, rng.randrange(n_days), acc.tz)
        priority = rng.choices(("low", "normal", "high"), (35, 50, 15))[0]
        resolved = opened + rng.randint(4, 120) * hours
        steps = [(opened, "opened", priority)]
        if rng.random() < 0.5:
            # An update (a reply, a comment) lands between opening and resolution.
            steps.append(
                (opened + (resolved - opened) * rng.randint(1, 8) // 10, "updated", priority)
            )
        steps += [
            (resolved, "resolved", priority),
            (resolved + rng.randint(24, 72) * hours, "closed", priority),
        ]
        _ticket(b, acc, sorted(steps), rng.choice(_TICKET_SUBJECTS))

    kind = acc.archetype
    if kind == "escalation":
        # Most escalations get resolved; every fourth escalation account keeps its last one open.
        n = rng.randint(1, 2)
        for k in range(n):
            opened = _work_hour_sec(rng, round(rng.uniform(6, 40) * scale), acc.tz)
            urgent = rng.random() < 0.4
            priority = "urgent" if urgent else "high"
            escalated = opened + rng.randint(2, 40) * hours
            steps = [(opened, "opened", priority), (escalated, "escalated", "urgent")]
            keep_open = k == n - 1 and acc.extra["nth"] % 4 == 3
            if not keep_open:
                resolved = escalated + rng.randint(24, 150) * hours
                steps.append((escalated + rng.randint(2, 20) * hours, "updated", "urgent"))
                steps.append((resolved, "resolved", "urgent"))
                steps.append((resolved + rng.randint(24, 72) * hours, "closed", "urgent"))
            _ticket(b, acc, sorted(steps), rng.choice(_ESCALATION_SUBJECTS))
    elif kind in ("sliding", "sliding_recovers"):
        p2, p3, recover = acc.extra["p2"], acc.extra["p3"], acc.extra["recover"]
        t1 = _work_hour_sec(rng, p2 + 2, acc.tz)
        t2 = _work_hour_sec(rng, p3 + 3, acc.tz)
        if kind == "sliding_recovers":
            fix1 = _work_hour_sec(rng, recover + 1, acc.tz)
            fix2 = _work_hour_sec(rng, recover + 3, acc.tz)
        else:
            fix1 = _work_hour_sec(rng, p3 + 12, acc.tz)
            fix2 = b.end_sec  # still open at the end
        _ticket(
            b,
            acc,
            [
                (t1, "opened", "high"),
                (t1 + 26 * hours, "escalated", "high"),
                (fix1, "resolved", "high"),
                (fix1 + 48 * hours, "closed", "high"),
            ],
            rng.choice(_ESCALATION_SUBJECTS),
        )
        _ticket(
            b,
            acc,
            [
                (t2, "opened", "urgent"),
                (t2 + 3 * hours, "escalated", "urgent"),
                (fix2, "resolved", "urgent"),
                (fix2 + 48 * hours, "closed", "urgent"),
            ],
            rng.choice(_ESCALATION_SUBJECTS),
        )


def _onboarding_tickets(rng: random.Random, b: _Builder, acc: _Account) -> None:
    """A how-to question in the first days, then the integration blocker, escalated once the
    warm-up is over (an escalation during the warm-up would be a fall of the provisional score)."""
    hours = 3600
    onboard = acc.extra["onboard_day"]
    asked = _work_hour_sec(rng, onboard + rng.randint(1, 3), acc.tz)
    answered = asked + rng.randint(4, 30) * hours
    _ticket(
        b,
        acc,
        [
            (asked, "opened", "normal"),
            (answered, "resolved", "normal"),
            (answered + rng.randint(24, 72) * hours, "closed", "normal"),
        ],
        "How do I bulk-invite users?",
    )
    opened = _work_hour_sec(rng, onboard + rng.randint(8, 10), acc.tz)
    escalated = opened + rng.randint(4, 30) * hours
    steps = [
        (opened, "opened", "high"),
        (escalated, "escalated", "urgent"),
        (escalated + rng.randint(2, 20) * hours, "updated", "urgent"),
    ]
    if acc.extra["nth"] % 2:
        # Half of them get the fix a week or two later; the others are still waiting.
        fixed = escalated + rng.randint(7 * 24, 14 * 24) * hours
        steps += [(fixed, "resolved", "urgent"), (fixed + 48 * hours, "closed", "urgent")]
    _ticket(b, acc, steps, "Integration sync failing with 429")


def _nps(rng: random.Random, b: _Builder, acc: _Account) -> None:
    if acc.extra.get("never_answers"):
        return
    n_days = b.n_days
    scale = n_days / 56
    kind = acc.archetype

    def respond(day: int, user: int, score: int, comment: str | None = None) -> None:
        fields: dict[str, Any] = {"score": score, "respondent_id": acc.users[user]}
        if comment:
            fields["comment"] = comment
        b.add(_work_hour_sec(rng, day, acc.tz), "nps", acc, fields)

    others = [u for u in range(len(acc.users)) if u != acc.champion]
    if kind == "troubled_onboarding":
        # The onboarding survey, two weeks in: a pilot user is unhappy.
        critic = rng.choice(acc.extra["pilot"] or [acc.champion])
        day = acc.extra["onboard_day"] + 13 + rng.randint(0, 2)
        respond(day, critic, rng.randint(2, 5), rng.choice(_DETRACTOR_COMMENTS))
        return
    if kind in ("sliding", "sliding_recovers"):
        p2, p3, recover = acc.extra["p2"], acc.extra["p3"], acc.extra["recover"]
        respond(rng.randint(1, max(1, p2 - 6)), acc.champion, rng.choice((8, 9)))
        respond(p2 + 3, rng.choice(others), 6, rng.choice(_DETRACTOR_COMMENTS))
        respond(p3 + 5, rng.choice(others), rng.randint(2, 4), rng.choice(_DETRACTOR_COMMENTS))
        if kind == "sliding_recovers":
            respond(recover + 4, acc.champion, 9, rng.choice(_PROMOTER_COMMENTS))
        return

    # One survey wave in the window; bigger accounts have more respondents. The story's
    # response comes last so that it is the account's latest NPS.
    # Detractors answer early enough for the follow-up response to land inside the window.
    latest_wave = 22 if kind.startswith("detractor") else 40
    wave = round(rng.uniform(3, latest_wave) * scale)
    if acc.stop_day is not None:
        wave = min(wave, max(0, acc.stop_day - 6))
    n = {"smb": 1, "mid_market": rng.randint(1, 2)}.get(acc.segment, rng.randint(2, 3))
    if kind == "expansion":
        scores = (9, 10)
    elif kind in ("escalation", "silent_champion", "silent_champion_returns"):
        scores = (7, 8, 8, 9, 10)
    else:
        scores = (8, 9, 9, 10)
    respondents = rng.sample(range(len(acc.users)), min(n, len(acc.users)))
    for k, user in enumerate(respondents):
        respond(wave + k, user, rng.choice(scores))
    if kind in ("detractor", "detractor_then_promoter"):
        day = wave + n + rng.randint(0, 2)
        critic = rng.choice(others)
        respond(day, critic, rng.randint(0, 6), rng.choice(_DETRACTOR_COMMENTS))
        if kind == "detractor_then_promoter":
            later = day + round(rng.uniform(14, 22) * scale)
            respond(later, critic, rng.choice((9, 10)), rng.choice(_PROMOTER_COMMENTS))


def _account_events(rng: random.Random, b: _Builder, acc: _Account, accounts: int) -> None:
    # Every account's facts arrive first, within the first hours of the sample.
    initial = {
        "name": acc.name,
        "segment": acc.segment,
        "licensed_seats": acc.seats,
        "arr": acc.arr,
        "csm_id": acc.csm_id,
        "champion_user_id": acc.champion_id,
        "contract_start": acc.contract_start.isoformat(),
        "renewal_date": acc.renewal_date.isoformat(),
        # Demo metadata (ignored by the contract): which story this account tells.
        "sample_archetype": acc.archetype,
    }
    if acc.first_day:
        # A new customer: created in the CRM early on its first day (07:00 local time), before
        # anyone logs in.
        b.add(acc.first_day * _DAY + (7 - acc.tz) * 3600, "account", acc, initial)
    else:
        b.add((acc.index * 5 * 3600) // max(accounts, 1), "account", acc, initial)

    if "renew_day" in acc.extra:
        # Signed a few days before the renewal date: next year's renewal, a price uplift.
        new_arr = float(round(acc.arr * rng.uniform(1.03, 1.10), -2))
        b.add(
            _work_hour_sec(rng, acc.extra["renew_day"], acc.tz),
            "account",
            acc,
            {"renewal_date": (acc.renewal_date + timedelta(days=365)).isoformat(), "arr": new_arr},
        )
    if "seat_day" in acc.extra:
        # The expansion closed: more seats, more ARR.
        more = max(2, math.ceil(acc.seats * 0.25))
        per_seat = acc.arr / acc.seats
        b.add(
            _work_hour_sec(rng, acc.extra["seat_day"], acc.tz),
            "account",
            acc,
            {
                "licensed_seats": acc.seats + more,
                "arr": float(round((acc.seats + more) * per_seat, -2)),
            },
        )
    if "new_csm_day" in acc.extra:
        # Book rebalanced: a new owner mid-sample (tasks must follow the account's csm_id).
        b.add(
            _work_hour_sec(rng, acc.extra["new_csm_day"], acc.tz),
            "account",
            acc,
            {"csm_id": acc.extra["new_csm"]},
        )


def _assign_cross_cutting(rng: random.Random, accs: list[_Account], n_days: int) -> None:
    """Renewals approaching, renewals signed, seat expansions, CSM changes, silent surveys."""
    scale = n_days / 56
    start = accs[0].extra["start"] if accs else date(2026, 8, 31)

    eligible = [a for a in accs if a.archetype != "low_adoption"]
    rng.shuffle(eligible)
    # Accounts that go dark do not sign a renewal (they may still have one approaching).
    eligible.sort(key=lambda a: a.archetype == "usage_stops")
    n_renewing = max(1, round(len(accs) * 0.035)) if len(accs) >= 20 else 0
    n_approach = max(2, round(len(accs) * 0.14)) if len(accs) >= 20 else 0
    # Offsets are days from the sample start to the renewal date; the 90/60/30-day marks are
    # calendar facts, so they are not stretched with `weeks`.
    for k, acc in enumerate(eligible[: n_renewing + n_approach]):
        if k < n_renewing:
            # Crosses 30 days before renewal inside the sample, then the renewal is signed.
            offset = 30 + rng.randint(2, max(2, min(20, n_days - 2)))
            acc.extra["renew_day"] = offset - rng.randint(2, 10)
        else:
            # In turn, each crosses the 90, 60 or 30-day mark inside the sample (and maybe
            # the next one too).
            mark = (90, 60, 30)[(k - n_renewing) % 3]
            offset = mark + rng.randint(1, max(1, n_days - 2))
        acc.renewal_date = start + timedelta(days=offset)
        acc.contract_start = _contract_start(rng, acc.renewal_date, start)
        acc.extra["renewal_story"] = True

    expansions = [a for a in accs if a.archetype == "expansion"]
    for acc in expansions[::3]:
        acc.extra["buys_seats"] = True

    quiet = [a for a in accs if a.archetype == "healthy"]
    for acc in quiet[: max(0, round(len(accs) * 0.05))]:
        acc.extra["never_answers"] = True
    for acc in quiet[-2:] if len(quiet) > 8 else []:
        acc.extra["new_csm_day"] = round(28 * scale)
        acc.extra["new_csm"] = CSMS[(CSMS.index(acc.csm_id) + 1) % len(CSMS)]


def _convert_healthy(
    accs: list[_Account], seed: int, start: date, n_days: int, id_width: int, names: set[str]
) -> None:
    """Retell a few plain healthy accounts as the `_CONVERTED` stories.

    Runs after the book and its cross-cutting stories are drawn and uses its own generators,
    so every other account comes out exactly as it would without these stories."""
    n_total = len(accs)
    pool = [
        a
        for a in accs
        if a.archetype == "healthy"
        and not {"renewal_story", "never_answers", "new_csm_day"} & set(a.extra)
    ]
    for archetype, share in _CONVERTED:
        wanted = round(share * n_total)
        if wanted < 1 or len(pool) < wanted:
            continue
        step = len(pool) // wanted
        picks = pool[step // 2 :: step][:wanted]
        pool = [a for a in pool if a not in picks]
        for k, old in enumerate(picks):
            segment = _SEGMENT_CYCLE[k % len(_SEGMENT_CYCLE)]
            arng = random.Random(f"{seed}:{old.account_id}:{archetype}")
            acc = _make_account(arng, old.index, archetype, segment, start, n_days, id_width, names)
            acc.extra.update(nth=k, start=start)
            accs[old.index] = acc


def generate_sample(
    accounts: int = 120,
    weeks: int = 8,
    seed: int = 7,
    start: date = date(2026, 8, 31),
) -> list[dict[str, Any]]:
    """The demo sample: events sorted by `occurred_at`, ties broken deterministically.

    Same arguments, same list, on any machine: nothing here reads a clock.
    """
    if accounts < 1 or weeks < 1:
        raise ValueError("accounts and weeks must be at least 1")
    rng = random.Random(seed)
    n_days = weeks * 7
    id_width = max(3, len(str(accounts)))

    labels = _plan_counts(accounts)
    rng.shuffle(labels)  # interleave the stories across account ids
    nth: Counter[str] = Counter()
    names: set[str] = set()
    accs: list[_Account] = []
    for index, label in enumerate(labels):
        segment = _SEGMENT_CYCLE[nth[label] % len(_SEGMENT_CYCLE)]
        acc = _make_account(rng, index, label, segment, start, n_days, id_width, names)
        acc.extra["nth"] = nth[label]
        acc.extra["start"] = start
        nth[label] += 1
        accs.append(acc)

    _assign_cross_cutting(rng, accs, n_days)
    _convert_healthy(accs, seed, start, n_days, id_width, names)
    b = _Builder(start, n_days)
    for acc in accs:
        # One child generator per account: a story's randomness does not shift the others.
        arng = random.Random(f"{seed}:{acc.account_id}")
        _shape_story(arng, acc, n_days)
        _account_events(arng, b, acc, accounts)
        _tickets(arng, b, acc)
        _nps(arng, b, acc)
        _usage(arng, b, acc)

    return _finish(rng, b, accs, start)


def _finish(
    rng: random.Random, b: _Builder, accs: list[_Account], start: date
) -> list[dict[str, Any]]:
    b.raw.sort(key=lambda r: r[:4])
    base = datetime(start.year, start.month, start.day, tzinfo=UTC)
    counters: Counter[tuple[int, str]] = Counter()
    events: list[dict[str, Any]] = []
    stamp_cache: dict[int, str] = {}
    # Tickets are numbered per account in the order they were opened (generation order is
    # by story, not by time).
    ticket_numbers: dict[str, str] = {}
    for sec, _, acc_index, _, kind, fields in b.raw:
        acc = accs[acc_index]
        counters[(acc_index, kind)] += 1
        if kind == "ticket":
            raw_id = fields["ticket_id"]
            if raw_id not in ticket_numbers:
                counters[(acc_index, "ticket_id")] += 1
                n = counters[(acc_index, "ticket_id")]
                ticket_numbers[raw_id] = f"{acc.account_id}-ticket-{n}"
            fields = {**fields, "ticket_id": ticket_numbers[raw_id]}
        stamp = stamp_cache.get(sec)
        if stamp is None:
            stamp = (base + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")
            stamp_cache[sec] = stamp
        events.append(
            {
                "type": kind,
                "event_id": f"{acc.account_id}-{_ID_TAG[kind]}-{counters[(acc_index, kind)]}",
                "account_id": acc.account_id,
                "occurred_at": stamp,
                **fields,
            }
        )
    return _with_duplicates(rng, events)


def _with_duplicates(rng: random.Random, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Redeliver a handful of events (same event_id, same payload), as at-least-once does.

    The copy sits right after the original because the file is sorted by event time; the
    workers must count it once (idempotency) and raise no second task from it.
    """
    if len(events) < 50:
        return events
    picks: set[int] = set()
    detractor = next(
        (i for i, e in enumerate(events) if e["type"] == "nps" and e["score"] <= 6), None
    )
    escalated = next(
        (i for i, e in enumerate(events) if e["type"] == "ticket" and e["status"] == "escalated"),
        None,
    )
    picks.update(i for i in (detractor, escalated) if i is not None)
    picks.add(1)  # an account event: a CRM sync that ran twice
    usage = [i for i, e in enumerate(events) if e["type"] == "usage"]
    picks.update(rng.sample(usage, min(8, len(usage))))
    out: list[dict[str, Any]] = []
    for i, event in enumerate(events):
        out.append(event)
        if i in picks:
            out.append(dict(event))
    return out


def write_sample(path: str | Path, **kw: Any) -> list[dict[str, Any]]:
    """Write `generate_sample(**kw)` as JSON lines (one event a line); returns the events."""
    events = generate_sample(**kw)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for event in events:
            fh.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
            fh.write("\n")
    return events


def describe_sample(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts for the docs and the CLI: per type, per archetype, per segment, and more."""
    by_type = Counter(e["type"] for e in events)
    ids = Counter(e["event_id"] for e in events)
    archetype: dict[str, str] = {}
    segment: dict[str, str] = {}
    renewal_dates: dict[str, set[str]] = {}
    statuses: Counter[str] = Counter()
    nps: Counter[str] = Counter()
    users: set[str] = set()
    for e in events:
        kind = e["type"]
        if kind == "account":
            if "sample_archetype" in e:
                archetype.setdefault(e["account_id"], e["sample_archetype"])
            if "segment" in e:
                segment[e["account_id"]] = e["segment"]
            if "renewal_date" in e:
                renewal_dates.setdefault(e["account_id"], set()).add(e["renewal_date"])
        elif kind == "usage":
            users.add(e["user_id"])
        elif kind == "ticket":
            statuses[e["status"]] += 1
        elif kind == "nps":
            score = e["score"]
            nps["detractor" if score <= 6 else "passive" if score <= 8 else "promoter"] += 1
    return {
        "events": len(events),
        "unique_event_ids": len(ids),
        "duplicate_deliveries": sum(n - 1 for n in ids.values()),
        "by_type": {k: by_type.get(k, 0) for k in ("account", "usage", "ticket", "nps")},
        "accounts": len({e["account_id"] for e in events}),
        "active_users": len(users),
        "by_segment": dict(sorted(Counter(segment.values()).items())),
        "by_archetype": {a: n for a in ARCHETYPES if (n := Counter(archetype.values())[a])},
        "ticket_statuses": dict(sorted(statuses.items())),
        "nps_responses": {k: nps.get(k, 0) for k in ("promoter", "passive", "detractor")},
        "renewals_signed": sum(1 for dates in renewal_dates.values() if len(dates) > 1),
        "first_event_at": events[0]["occurred_at"] if events else None,
        "last_event_at": events[-1]["occurred_at"] if events else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.sample",
        description="Write the deterministic demo sample as JSON lines (for `cs-signals produce`).",
    )
    parser.add_argument("--out", required=True, help="output file (JSON lines); '-' for stdout")
    parser.add_argument("--accounts", type=int, default=120, help="accounts (default 120)")
    parser.add_argument("--weeks", type=int, default=8, help="weeks of events (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 8, 31),
        help="first day, YYYY-MM-DD (default 2026-08-31)",
    )
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.weeks < 1:
        parser.error("--accounts and --weeks must be at least 1")
    kw = {"accounts": args.accounts, "weeks": args.weeks, "seed": args.seed, "start": args.start}
    if args.out == "-":
        events = generate_sample(**kw)
        try:
            for event in events:
                line = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            # `... | head`: the reader has seen enough; that is not an error.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stops a second error at exit
            return 0
        report = sys.stderr  # keep stdout pure JSON lines for a pipe
    else:
        events = write_sample(args.out, **kw)
        report = sys.stdout
    info = describe_sample(events)
    lines = [
        f"wrote {info['events']} events to {args.out}",
        f"  {info['first_event_at']} .. {info['last_event_at']}",
        "  by type:      " + ", ".join(f"{k} {v}" for k, v in info["by_type"].items()),
        "  by segment:   " + ", ".join(f"{k} {v}" for k, v in info["by_segment"].items()),
        "  by archetype: " + ", ".join(f"{k} {v}" for k, v in info["by_archetype"].items()),
        f"  duplicate deliveries: {info['duplicate_deliveries']}",
    ]
    print("\n".join(lines), file=report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
