"""The bundled demo sample: deterministic, valid, and telling every story of DOMAIN.md.

The stories are checked from the events alone, with a small reference implementation of the
default health model (DOMAIN.md's table) evaluated at the end of every day. It is deliberately
independent of the engine: it says what the sample *contains*, not what the workers make of it.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from events.models import (
    AccountEvent,
    ActivityEvent,
    MilestoneEvent,
    NpsEvent,
    TicketEvent,
    UsageEvent,
)
from workers.local.sample import (
    ARCHETYPES,
    CORE_FEATURES,
    SAMPLE_FEATURES,
    describe_sample,
    generate_sample,
    main,
    write_sample,
)

MODELS: dict[str, type[BaseModel]] = {
    "usage": UsageEvent,
    "ticket": TicketEvent,
    "nps": NpsEvent,
    "account": AccountEvent,
    "activity": ActivityEvent,
    "milestone": MilestoneEvent,
}
DAY = 86_400
START = date(2026, 8, 31)
WEIGHTS = {
    "usage": 0.30,
    "adoption": 0.20,
    "engagement": 0.20,
    "satisfaction": 0.15,
    "support": 0.15,
}
OPEN = {"opened", "updated", "escalated"}


# --------------------------------------------------------------------------- reference view


@dataclass
class Book:
    """One account, reconstructed from its events (seconds since the sample start)."""

    account_id: str
    archetype: str = ""
    facts: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    day_users: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    day_core: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    user_days: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    user_secs: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    tickets: dict[str, list[tuple[int, str, str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    nps: list[tuple[int, int]] = field(default_factory=list)
    activities: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    milestones: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    last_sec: int = 0
    last_usage_day: int = -1

    def fact(self, name: str, at: int) -> Any:
        value = None
        for sec, fields in self.facts:
            if sec > at:
                break
            value = fields.get(name, value)
        return value

    def active(self, first_day: int, last_day: int) -> set[str]:
        users: set[str] = set()
        for d in range(max(0, first_day), last_day + 1):
            users |= self.day_users.get(d, set())
        return users

    def core_used(self, first_day: int, last_day: int) -> set[str]:
        used: set[str] = set()
        for d in range(max(0, first_day), last_day + 1):
            used |= self.day_core.get(d, set())
        return used


def _secs(stamp: str, base: datetime) -> int:
    return int((datetime.fromisoformat(stamp) - base).total_seconds())


def build_books(events: list[dict[str, Any]]) -> dict[str, Book]:
    base = datetime.fromisoformat(f"{START.isoformat()}T00:00:00+00:00")
    books: dict[str, Book] = {}
    seen: set[str] = set()
    core = set(CORE_FEATURES)
    for e in events:
        if e["event_id"] in seen:
            continue  # a duplicate delivery counts once
        seen.add(e["event_id"])
        book = books.setdefault(e["account_id"], Book(e["account_id"]))
        sec = _secs(e["occurred_at"], base)
        book.last_sec = max(book.last_sec, sec)
        kind = e["type"]
        if kind == "account":
            book.archetype = book.archetype or e.get("sample_archetype", "")
            book.facts.append((sec, e))
        elif kind == "usage":
            d = sec // DAY
            book.day_users[d].add(e["user_id"])
            if e["feature"] in core:
                book.day_core[d].add(e["feature"])
            if not book.user_days[e["user_id"]] or book.user_days[e["user_id"]][-1] != d:
                book.user_days[e["user_id"]].append(d)
            book.user_secs[e["user_id"]].append(sec)
            book.last_usage_day = max(book.last_usage_day, d)
        elif kind == "ticket":
            book.tickets[e["ticket_id"]].append((sec, e["status"], e["priority"]))
        elif kind == "activity":
            book.activities.append((sec, e))
        elif kind == "milestone":
            book.milestones.append((sec, e))
        else:
            book.nps.append((sec, e["score"]))
    return books


def _points(value: float, good: float, at_risk: float, higher_is_better: bool = True) -> int:
    if higher_is_better:
        return 5 if value >= good else 3 if value >= at_risk else 1
    return 5 if value <= good else 3 if value <= at_risk else 1


def reference_score(book: Book, day: int) -> float:
    """DOMAIN.md's default health model at the end of `day`, from the events alone."""
    t = (day + 1) * DAY
    points: dict[str, int] = {}
    seats = book.fact("licensed_seats", t)
    if seats:
        points["usage"] = _points(len(book.active(day - 6, day)) / seats, 0.5, 0.25)
    points["adoption"] = _points(len(book.core_used(day - 29, day)) / len(CORE_FEATURES), 0.7, 0.4)
    if any(sec < t for sec, _ in book.activities):
        points["engagement"] = responsiveness_points(book, t)
    else:
        champion = book.fact("champion_user_id", t)
        seen = [s for s in book.user_secs.get(champion, []) if s < t]
        if seen:
            points["engagement"] = _points((t - max(seen)) // DAY, 7, 14, higher_is_better=False)
        else:
            points["engagement"] = 1
    responses = [score for sec, score in book.nps if t - 180 * DAY <= sec < t]
    if responses:
        points["satisfaction"] = _points(responses[-1], 8, 6)
    escalations, open_high = 0, 0
    for steps in book.tickets.values():
        past = [s for s in steps if s[0] < t]
        if not past:
            continue
        escalations += sum(
            1 for sec, status, _ in past if status == "escalated" and sec >= t - 30 * DAY
        )
        _, status, priority = past[-1]
        open_high += status in OPEN and priority in ("high", "urgent")
    points["support"] = 1 if escalations or open_high > 5 else 3 if open_high > 2 else 5
    weight = sum(WEIGHTS[c] for c in points)
    return 20 * sum(WEIGHTS[c] * p for c, p in points.items()) / weight


QBR_EVERY = {"enterprise": 90, "mid_market": 180}


def responsiveness_points(book: Book, t: int) -> int:
    """DOMAIN.md's engagement with activity data, at time t: critical when an outreach (an
    outbound email or call) has waited 7+ days; at risk when one has waited 2+ days, when
    fewer than 75% of the replies of the last 90 days came within 48 h, or when the QBR is
    past due and not booked; else good."""
    waiting: list[tuple[int, str]] = []
    latencies: list[tuple[int, int]] = []
    held: list[int] = []
    booked: tuple[int, int] | None = None  # (booked at, day booked for)
    first = min(sec for sec, _ in book.activities)
    for sec, a in book.activities:
        if sec >= t:
            break
        if a.get("scheduled_for") and _secs(a["scheduled_for"], _BASE) > sec:
            booked = (sec, _secs(a["scheduled_for"], _BASE) // DAY)
            continue
        if a["kind"] == "note":
            continue
        if a["kind"] == "qbr":
            held.append(sec)
            if booked is not None and booked[0] <= sec:
                booked = None
        if a["direction"] == "outbound":
            if a["kind"] in ("email", "call"):
                waiting.append((sec, a["activity_id"]))
        elif waiting:
            ids = [w[1] for w in waiting]
            cut = waiting[ids.index(a["in_reply_to"])][0] if a.get("in_reply_to") in ids else sec
            answered = [w for w in waiting if w[0] <= cut]
            if answered:
                start = cut if a.get("in_reply_to") in ids else answered[0][0]
                latencies.append((sec, sec - start))
                waiting = [w for w in waiting if w[0] > cut]
    if waiting and (t - waiting[0][0]) // DAY >= 7:
        return 1
    if waiting and (t - waiting[0][0]) // DAY >= 2:
        return 3
    recent = [lat for sec, lat in latencies if sec >= t - 90 * DAY]
    if recent and sum(1 for lat in recent if lat <= 2 * DAY) / len(recent) < 0.75:
        return 3
    segment = book.fact("segment", t)
    every = QBR_EVERY.get(segment)
    if every is not None:
        today = t // DAY if t % DAY else t // DAY - 1  # the evaluation's day
        if held:
            due = held[-1] // DAY + every
        else:
            contract = (date.fromisoformat(book.fact("contract_start", t)) - START).days
            cycles = max(1, -(-(first // DAY - contract) // every))
            due = contract + cycles * every
        is_booked = booked is not None and today <= booked[1] + 2
        if due < today and not is_booked:
            return 3
    return 5


_BASE = datetime.fromisoformat(f"{START.isoformat()}T00:00:00+00:00")


def band(score: float) -> str:
    if score >= 85:
        return "champion"
    if score >= 70:
        return "healthy"
    return "at_risk" if score >= 50 else "critical"


def week_over_week_drops(book: Book, n_days: int) -> list[int]:
    """Days at whose end the last 7 days' active users are >= 30% below the 7 before (>= 5)."""
    drops = []
    for d in range(13, n_days):
        prev = len(book.active(d - 13, d - 7))
        cur = len(book.active(d - 6, d))
        if prev >= 5 and cur <= 0.7 * prev:
            drops.append(d)
    return drops


def champion_gaps(book: Book, n_days: int) -> list[tuple[int, int]]:
    """(last active day, next active day or n_days) spans of more than 10 days."""
    champion = book.fact("champion_user_id", n_days * DAY)
    days = book.user_days.get(champion, [])
    marks = [*days, n_days]
    return [(a, b) for a, b in zip(marks, marks[1:], strict=False) if b - a > 10]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return generate_sample()


@pytest.fixture(scope="module")
def books(events: list[dict[str, Any]]) -> dict[str, Book]:
    return build_books(events)


def of(books: dict[str, Book], *archetypes: str) -> list[Book]:
    return [b for b in books.values() if b.archetype in archetypes]


N_DAYS = 56


# --------------------------------------------------------------------------- shape


def test_same_seed_same_sample(events: list[dict[str, Any]]) -> None:
    assert generate_sample() == events
    small = generate_sample(accounts=30, weeks=2, seed=3)
    assert generate_sample(accounts=30, weeks=2, seed=3) == small
    assert generate_sample(accounts=30, weeks=2, seed=4) != small


def test_size_span_and_segments(events: list[dict[str, Any]]) -> None:
    assert 60_000 <= len(events) <= 120_000
    accounts = {e["account_id"] for e in events}
    assert len(accounts) >= 100
    first = datetime.fromisoformat(events[0]["occurred_at"])
    last = datetime.fromisoformat(events[-1]["occurred_at"])
    assert first.date() == START
    assert last - first >= timedelta(days=55)  # the eighth week is covered
    assert last.date() < START + timedelta(weeks=8)
    segments = {e["segment"] for e in events if e["type"] == "account" and "segment" in e}
    assert segments == {"enterprise", "mid_market", "smb"}


def test_sorted_by_time_with_zulu_stamps(events: list[dict[str, Any]]) -> None:
    stamps = [e["occurred_at"] for e in events]
    assert all(s.endswith("Z") and len(s) == 20 for s in stamps)
    # Fixed-width UTC stamps: text order is time order.
    assert stamps == sorted(stamps)


def test_every_event_validates_against_its_model(events: list[dict[str, Any]]) -> None:
    counts: Counter[str] = Counter()
    for e in events:
        model = MODELS[e["type"]].model_validate(e)
        assert model.event_id == e["event_id"]
        counts[e["type"]] += 1
    assert set(counts) == set(MODELS)


def test_account_facts_come_first_and_are_realistic(
    events: list[dict[str, Any]], books: dict[str, Book]
) -> None:
    first_kind: dict[str, str] = {}
    for e in events:
        first_kind.setdefault(e["account_id"], e["type"])
    assert set(first_kind.values()) == {"account"}
    seats_range = {"enterprise": (80, 300), "mid_market": (25, 80), "smb": (5, 25)}
    csms = set()
    for book in books.values():
        initial = book.facts[0][1]
        lo, hi = seats_range[initial["segment"]]
        assert lo <= initial["licensed_seats"] <= hi
        assert initial["arr"] > 0
        assert initial["champion_user_id"] in book.user_days or book.archetype == "usage_stops"
        contract_start = date.fromisoformat(initial["contract_start"])
        renewal = date.fromisoformat(initial["renewal_date"])
        if book.archetype == "troubled_onboarding":
            # A new customer: signed the day it appears, first renewal a year later.
            first_day = START + timedelta(days=book.facts[0][0] // DAY)
            assert contract_start == first_day > START
            assert renewal == contract_start + timedelta(days=365)
        else:
            # Existing customers: signed before the sample, renewing after the contract started.
            assert contract_start < START < renewal
        csms.add(initial["csm_id"])
    assert 6 <= len(csms) <= 10 and all(c.startswith("csm-") for c in csms)


def test_features_and_ids(events: list[dict[str, Any]]) -> None:
    assert set(SAMPLE_FEATURES["core"]) == set(CORE_FEATURES)
    used = {e["feature"] for e in events if e["type"] == "usage"}
    assert used == set(SAMPLE_FEATURES["core"]) | set(SAMPLE_FEATURES["non_core"])
    for e in events[:2000]:
        assert e["event_id"].startswith(e["account_id"] + "-")


def test_duplicate_deliveries_are_identical_redeliveries(events: list[dict[str, Any]]) -> None:
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_id[e["event_id"]].append(e)
    dups = {k: v for k, v in by_id.items() if len(v) > 1}
    assert 5 <= len(dups) <= 20
    assert all(len(v) == 2 and v[0] == v[1] for v in dups.values())
    assert {v[0]["type"] for v in dups.values()} >= {"usage", "ticket", "nps"}


# --------------------------------------------------------------------------- stories


def test_every_archetype_is_present_several_times_across_segments(
    books: dict[str, Book],
) -> None:
    counts = Counter(b.archetype for b in books.values())
    assert set(counts) == set(ARCHETYPES)
    assert all(n >= 4 for n in counts.values()), counts
    for archetype in ARCHETYPES:
        segments = {b.facts[0][1]["segment"] for b in of(books, archetype)}
        assert len(segments) >= 2, archetype


def test_ticket_lifecycles_are_consistent(books: dict[str, Book]) -> None:
    order = {"opened": 0, "updated": 1, "escalated": 1, "resolved": 2, "closed": 3}
    escalated = resolved_escalations = 0
    for book in books.values():
        for ticket_id, steps in book.tickets.items():
            statuses = [s for _, s, _ in steps]
            assert statuses[0] == "opened" and statuses.count("opened") == 1, ticket_id
            secs = [sec for sec, _, _ in steps]
            assert secs == sorted(secs), ticket_id
            ranks = [order[s] for s in statuses]
            assert ranks == sorted(ranks), (ticket_id, statuses)
            if "escalated" in statuses:
                escalated += 1
                resolved_escalations += "resolved" in statuses
    assert escalated >= 10
    # Most escalations get resolved, not all.
    assert escalated > resolved_escalations >= 0.6 * escalated


def test_escalations_and_urgent_tickets(books: dict[str, Book]) -> None:
    for book in of(books, "escalation"):
        statuses = {s for steps in book.tickets.values() for _, s, _ in steps}
        assert "escalated" in statuses, book.account_id
    urgent_openings = [
        b.account_id
        for b in books.values()
        for steps in b.tickets.values()
        if steps[0][1:] == ("opened", "urgent")
    ]
    assert len(urgent_openings) >= 3


def test_nps_detractors_promoters_and_silent_accounts(books: dict[str, Book]) -> None:
    for book in of(books, "detractor", "detractor_then_promoter"):
        assert any(score <= 6 for _, score in book.nps), book.account_id
    for book in of(books, "detractor_then_promoter"):
        first_bad = min(sec for sec, score in book.nps if score <= 6)
        assert any(sec > first_bad and score >= 9 for sec, score in book.nps), book.account_id
    answered = [b for b in books.values() if b.nps]
    assert len(answered) >= 0.85 * len(books)
    assert len(answered) < len(books)  # a few never answer


def test_usage_drop_of_30_percent_with_at_least_5_users(books: dict[str, Book]) -> None:
    for book in of(books, "declining", "declining_recovers", "usage_stops"):
        assert week_over_week_drops(book, N_DAYS), book.account_id
    for book in of(books, "declining_recovers"):
        drop = week_over_week_drops(book, N_DAYS)[0]
        before = len(book.active(drop - 13, drop - 7))
        # Later, a full week back within -15% of the level before the drop.
        assert any(len(book.active(d - 6, d)) >= 0.85 * before for d in range(drop + 7, N_DAYS)), (
            book.account_id
        )
    # Steady accounts do not wobble into false alarms.
    for book in of(books, "healthy", "expansion", "escalation", "detractor"):
        assert not week_over_week_drops(book, N_DAYS), book.account_id


def test_usage_that_stops_completely(books: dict[str, Book]) -> None:
    for book in of(books, "usage_stops"):
        assert 14 <= book.last_usage_day <= N_DAYS - 14, book.account_id
        # Nothing from the customer arrives after usage stops (a weekend may come in between);
        # their CSM keeps writing.
        from_customer = (
            [sec for sec, a in book.activities if a["direction"] == "inbound"]
            + [s for steps in book.tickets.values() for s, _, _ in steps]
            + [s for s, _ in book.nps]
        )
        assert max(from_customer, default=0) < (book.last_usage_day + 3) * DAY, book.account_id


def test_expansion_candidates(books: dict[str, Book]) -> None:
    for book in of(books, "expansion"):
        ratios = [
            len(book.active(d - 6, d)) / book.fact("licensed_seats", (d + 1) * DAY)
            for d in range(6, N_DAYS)
        ]
        assert max(ratios) >= 0.9, book.account_id
        assert ratios[0] < 0.9  # the candidates emerge during the sample
        assert min(score for _, score in book.nps) >= 9
    # Some expansions close: more seats later.
    grown = [
        b
        for b in of(books, "expansion")
        if len({f["licensed_seats"] for _, f in b.facts if "licensed_seats" in f}) > 1
    ]
    assert grown
    # Nobody else looks like an expansion candidate by accident.
    for book in books.values():
        if book.archetype != "expansion":
            seats = book.facts[0][1]["licensed_seats"]
            assert all(len(book.active(d - 6, d)) < 0.9 * seats for d in range(6, N_DAYS))


def test_silent_champions(books: dict[str, Book]) -> None:
    for book in of(books, "silent_champion", "silent_champion_returns"):
        gaps = champion_gaps(book, N_DAYS)
        assert gaps, book.account_id
        a, b = gaps[0]
        # The rest of the team keeps working while the champion is silent.
        assert len(book.active(a + 1, min(b, N_DAYS) - 1)) >= 2
        returns = b < N_DAYS
        assert returns == (book.archetype == "silent_champion_returns"), book.account_id
    for book in of(
        books, "healthy", "expansion", "declining", "declining_recovers", "low_adoption"
    ):
        assert not champion_gaps(book, N_DAYS), book.account_id


def test_low_adoption(books: dict[str, Book]) -> None:
    end = START + timedelta(days=N_DAYS)
    fired_inside = 0
    for book in of(books, "low_adoption"):
        contract_start = date.fromisoformat(book.facts[0][1]["contract_start"])
        assert contract_start <= end - timedelta(days=60)
        assert len(book.core_used(N_DAYS - 30, N_DAYS - 1)) / len(CORE_FEATURES) < 0.3
        fired_inside += contract_start + timedelta(days=60) >= START
    assert fired_inside >= 2  # the 60-day mark passes during the sample for some
    for book in of(books, "healthy"):
        assert len(book.core_used(N_DAYS - 30, N_DAYS - 1)) >= 5


def test_renewals_cross_90_60_30_and_some_renew(books: dict[str, Book]) -> None:
    crossings: Counter[int] = Counter()
    renewed = 0
    for book in books.values():
        dates = [(sec, f["renewal_date"]) for sec, f in book.facts if "renewal_date" in f]
        if len(dates) > 1:
            renewed += 1
            old, new = date.fromisoformat(dates[0][1]), date.fromisoformat(dates[-1][1])
            assert new == old + timedelta(days=365)
            assert dates[-1][0] < (old - START).days * DAY  # signed before the date
        for k in (90, 60, 30):
            day = date.fromisoformat(dates[0][1]) - timedelta(days=k)
            sec = (day - START).days * DAY
            if 0 <= sec < N_DAYS * DAY and book.fact("renewal_date", sec) == dates[0][1]:
                crossings[k] += 1
    assert all(crossings[k] >= 3 for k in (90, 60, 30)), crossings
    assert renewed >= 2


def test_healthy_accounts_stay_healthy(books: dict[str, Book]) -> None:
    # After the first week (windows need data), the baseline raises no health alarms.
    for book in of(books, "healthy", "expansion"):
        low = min(reference_score(book, d) for d in range(7, N_DAYS))
        assert low >= 70, (book.account_id, low)


def test_sliding_accounts_go_at_risk_then_critical_and_some_recover(
    books: dict[str, Book],
) -> None:
    for book in of(books, "sliding", "sliding_recovers"):
        bands = [band(reference_score(book, d)) for d in range(7, N_DAYS)]
        assert bands[0] in ("champion", "healthy"), book.account_id
        first_risk = bands.index("at_risk")
        first_critical = bands.index("critical")
        assert first_risk < first_critical, (book.account_id, bands)
        after = bands[first_critical:]
        recovered = max(
            (
                len(run)
                for run in "".join(
                    "h" if b in ("champion", "healthy") else "x" for b in after
                ).split("x")
            ),
            default=0,
        )
        if book.archetype == "sliding_recovers":
            assert recovered >= 14, (book.account_id, bands)  # above 70 for 2+ weeks
        else:
            assert recovered == 0, (book.account_id, bands)


def test_troubled_onboarding_starts_at_risk_then_turns_critical(books: dict[str, Book]) -> None:
    """A new customer whose first real score is already at risk (no fall from above: no
    health_at_risk), then an escalation takes it below 50 (health_critical opens by itself)."""
    onboarding = of(books, "troubled_onboarding")
    assert 2 <= len(onboarding) <= 4
    assert len({b.facts[0][1]["segment"] for b in onboarding}) >= 2
    for book in onboarding:
        first = book.facts[0][0] // DAY
        assert 10 <= first <= N_DAYS - 21, book.account_id
        # Nothing at all before the customer exists.
        firsts = [s for steps in book.tickets.values() for s, _, _ in steps]
        firsts += [s for s, _ in book.nps] + [s for secs in book.user_secs.values() for s in secs]
        assert min(firsts) >= book.facts[0][0], book.account_id
        # A small pilot group: well under a quarter of the seats ever log in.
        seats = book.facts[0][1]["licensed_seats"]
        assert 2 <= len(book.user_days) < 0.25 * seats, book.account_id
        assert len(book.core_used(0, N_DAYS - 1)) <= 3
        # The escalation lands after the 7-day warm-up.
        escalated = [
            sec
            for steps in book.tickets.values()
            for sec, status, _ in steps
            if status == "escalated"
        ]
        assert escalated and min(escalated) >= (first + 8) * DAY, book.account_id
        bands = [band(reference_score(book, d)) for d in range(first + 7, N_DAYS)]
        assert "champion" not in bands and "healthy" not in bands, (book.account_id, bands)
        assert bands[0] == "at_risk", (book.account_id, bands)
        critical = bands.index("critical")
        assert all(b == "critical" for b in bands[critical:]), (book.account_id, bands)
        assert any(score <= 6 for _, score in book.nps), book.account_id


# --------------------------------------------------------------------------- engagement


def _checkins(book: Book) -> list[int]:
    kinds = {"meeting", "call", "qbr"} if book.facts[0][1]["segment"] == "enterprise" else None
    return [
        sec
        for sec, a in book.activities
        if a["direction"] == "outbound"
        and a["kind"] != "note"
        and not a.get("scheduled_for")
        and (kinds is None or a["kind"] in kinds)
    ]


def _longest_wait(book: Book) -> int:
    """Seconds the longest-unanswered outreach waited (to its reply or the sample's end)."""
    longest, waiting = 0, []
    for sec, a in book.activities:
        if a["direction"] == "outbound" and a["kind"] in ("email", "call"):
            waiting.append(sec)
        elif a["direction"] == "inbound" and waiting:
            longest = max(longest, sec - waiting[0])
            waiting = []
    if waiting:
        longest = max(longest, N_DAYS * DAY - waiting[0])
    return longest


def test_csms_log_touchpoints_for_enterprise_and_mid_market_accounts(
    books: dict[str, Book],
) -> None:
    for book in books.values():
        segment = book.facts[0][1]["segment"]
        assert bool(book.activities) == (segment != "smb"), book.account_id
        ids = set()
        for sec, a in book.activities:
            assert a["csm_id"] == book.fact("csm_id", sec), book.account_id
            if a.get("in_reply_to"):
                assert a["in_reply_to"] in ids  # a reply to an earlier outreach
            ids.add(a["activity_id"])
    kinds = Counter(a["kind"] for b in books.values() for _, a in b.activities)
    assert set(kinds) == {"email", "call", "meeting", "qbr", "note"}


def test_most_accounts_are_on_cadence_and_one_csm_falls_behind(books: dict[str, Book]) -> None:
    on_cadence = behind = 0
    for book in books.values():
        if not book.activities:
            continue
        marks = [*_checkins(book), N_DAYS * DAY]
        gaps = [b - a for a, b in zip(marks, marks[1:], strict=False)]
        late = max(gaps) > 31 * DAY
        if book.facts[0][1]["csm_id"] == "csm-farid":
            behind += late
        elif book.archetype in ("healthy", "expansion", "escalation", "low_adoption"):
            on_cadence += not late
            if book.archetype != "healthy":  # one healthy customer goes quiet (below)
                assert _longest_wait(book) < 2 * DAY, book.account_id
    assert on_cadence >= 30 and behind >= 8


def test_customers_that_stop_answering(books: dict[str, Book]) -> None:
    silent = {b.account_id for b in books.values() if _longest_wait(b) >= 7 * DAY}
    stories = of(books, "silent_champion", "silent_champion_returns", "sliding", "usage_stops")
    assert {b.account_id for b in stories if b.activities} <= silent
    # ... and one otherwise healthy customer goes quiet for two weeks, then answers.
    quiet = [b for b in of(books, "healthy") if b.account_id in silent]
    assert len(quiet) == 1
    assert quiet[0].activities[-1][0] > 0 and any(
        a["direction"] == "inbound" for sec, a in quiet[0].activities if sec > 30 * DAY
    )


def test_qbrs_are_booked_before_they_fall_due(books: dict[str, Book]) -> None:
    booked = [(b, a) for b in books.values() for _, a in b.activities if a.get("scheduled_for")]
    assert len(booked) >= 15
    assert all(a["kind"] == "qbr" and b.facts[0][1]["csm_id"] != "csm-farid" for b, a in booked)
    held = [a for b in books.values() for _, a in b.activities if a["kind"] == "qbr"]
    assert len(held) > len(booked)  # most bookings were held within the sample


def test_success_plans(books: dict[str, Book]) -> None:
    planned = [b for b in books.values() if b.milestones]
    assert len(planned) >= 15
    overdue_onboarding = 0
    for book in planned:
        latest: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        for sec, m in book.milestones:
            latest[(m["plan_id"], m["milestone_id"])] = (sec, m)
        for _sec, m in latest.values():
            due = (date.fromisoformat(m["due_date"]) - START).days
            if m["phase"] == "onboard" and m["status"] != "done" and due < N_DAYS - 1:
                overdue_onboarding += 1
                assert book.archetype == "troubled_onboarding"
    # The stalled onboardings' integration milestone stays blocked (or is done late).
    assert overdue_onboarding >= 2
    for book in of(books, "troubled_onboarding"):
        statuses = [m["status"] for _, m in book.milestones if m["milestone_id"] == "integration"]
        assert "blocked" in statuses


# --------------------------------------------------------------------------- API and CLI


def test_describe_sample(events: list[dict[str, Any]]) -> None:
    info = describe_sample(events)
    assert info["events"] == len(events)
    assert sum(info["by_type"].values()) == len(events)
    assert info["duplicate_deliveries"] == len(events) - info["unique_event_ids"]
    assert set(info["by_archetype"]) == set(ARCHETYPES)
    assert sum(info["by_archetype"].values()) == info["accounts"] >= 100
    assert info["renewals_signed"] >= 2
    assert info["nps_responses"]["detractor"] >= 10
    json.dumps(info)  # fit for docs and --json style output


def test_small_and_odd_sizes_work() -> None:
    for accounts, weeks in ((1, 1), (5, 1), (12, 3), (30, 12)):
        sample = generate_sample(accounts=accounts, weeks=weeks)
        assert sample and sample[0]["type"] == "account"
        assert len({e["account_id"] for e in sample}) == accounts
    with pytest.raises(ValueError):
        generate_sample(accounts=0)


def test_write_sample_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.jsonl"
    written = write_sample(out, accounts=20, weeks=2, seed=5)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == written == generate_sample(20, 2, 5)

    cli_out = tmp_path / "cli.jsonl"
    assert main(["--out", str(cli_out), "--accounts", "20", "--weeks", "2", "--seed", "5"]) == 0
    assert cli_out.read_bytes() == out.read_bytes()
    printed = capsys.readouterr().out
    assert f"wrote {len(written)} events" in printed and "by archetype" in printed
