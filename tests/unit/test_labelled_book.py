"""The labelled book (`cs-signals sample --labelled`): deterministic, decodable, and telling the
truth: every outcome row is backed by the events, and the nuisances are really there.

A 60-account book keeps the tests fast; the shares are checked on the 300-account plan.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from events.decode import decode_event
from events.jsonl import parse_jsonl_lines
from workers.cli import main
from workers.local.labelled import (
    ARCHETYPES,
    LabelledBook,
    describe_book,
    generate_labelled_book,
)
from workers.local.labelled.catalogue import DEFAULT_START, Calendar
from workers.local.labelled.plan import SPREAD_FROM_DAY, archetype_counts, plan_book


@pytest.fixture(scope="module")
def book() -> LabelledBook:
    return generate_labelled_book(accounts=60, weeks=26, seed=11)


def _digest(b: LabelledBook) -> str:
    text = json.dumps([b.events, b.outcomes], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _day(b: LabelledBook, stamp: str) -> int:
    return (date.fromisoformat(stamp[:10]) - b.calendar.start).days


def _first_facts(b: LabelledBook) -> dict[str, dict[str, Any]]:
    first: dict[str, dict[str, Any]] = {}
    for e in b.events:
        if e["type"] == "account":
            first.setdefault(e["account_id"], e)
    return first


def test_same_seed_same_book_other_seed_other_book(book: LabelledBook) -> None:
    again = generate_labelled_book(accounts=60, weeks=26, seed=11)
    assert _digest(again) == _digest(book)
    other = generate_labelled_book(accounts=60, weeks=26, seed=12)
    assert _digest(other) != _digest(book)


def test_every_event_decodes_sorted_with_unique_ids(book: LabelledBook) -> None:
    lines = [json.dumps(e) for e in book.events]
    records, errors = parse_jsonl_lines(lines)
    assert errors == []
    assert len(records) == len(book.events)
    for record in records:
        decode_event(record.topic, record.value)  # raises on a dead letter
    ids = Counter(e["event_id"] for e in book.events)
    assert max(ids.values()) == 1
    stamps = [e["occurred_at"] for e in book.events]
    assert stamps == sorted(stamps)
    assert all(s.endswith("Z") for s in stamps)
    assert {e["type"] for e in book.events} == {"account", "usage", "ticket", "nps"}


def test_archetype_shares() -> None:
    shares = Counter(archetype_counts(300))
    assert shares["healthy"] == 165  # the majority, ~55%
    assert shares["gradual_churn"] == 24
    assert shares["sudden_churn"] == 15
    assert shares["dip_recover"] == 24
    assert shares["expansion"] == 24
    assert shares["downgrade"] == 12
    assert sum(shares.values()) == 300


def test_every_account_names_its_archetype(book: LabelledBook) -> None:
    first = _first_facts(book)
    assert len(first) == 60
    named = Counter(e["sample_archetype"] for e in first.values())
    assert set(named) == set(ARCHETYPES)
    assert named["healthy"] > 60 // 2


def test_churners_have_a_churned_status_and_go_silent(book: LabelledBook) -> None:
    churned = {r["account_id"]: r["date"] for r in book.outcomes if r["outcome"] == "churned"}
    kinds = {a.account_id: a.archetype for a in book.accounts}
    assert set(churned) == {a for a, k in kinds.items() if k.endswith("_churn")}
    status = {
        e["account_id"]: e["occurred_at"][:10]
        for e in book.events
        if e["type"] == "account" and e.get("status") == "churned"
    }
    assert status == churned
    n = book.calendar.n_days
    for account_id, day in churned.items():
        churn = _day(book, day)
        assert n // 2 <= churn < n - 7  # windows before it fit in the book
        after = [
            e
            for e in book.events
            if e["account_id"] == account_id
            and e["type"] in ("usage", "nps")
            and e["occurred_at"][:10] > day
        ]
        # At most a short trickle of data exports in the days after churning.
        assert all(e["type"] == "usage" and e["feature"] == "exports" for e in after)
        assert all(_day(book, e["occurred_at"]) <= churn + 5 for e in after)


def test_a_year_long_book_spreads_churn_over_the_year() -> None:
    """Bunched into a year's last 82 days, every warning of the year came in one season (the
    evaluator's storm read the calendar of the sample, not the rules); a 26-week book keeps
    its dates."""
    def churn_days(weeks: int) -> list[int]:
        cal = Calendar.for_book(DEFAULT_START, weeks)
        plan = plan_book(random.Random(7), 600, cal)
        return [a.churn_day for a in plan if a.churn_day is not None]

    year = churn_days(52)
    assert len(year) == 78
    assert min(year) >= SPREAD_FROM_DAY and max(year) < 52 * 7 - 7
    # Spread over the last eight months: a third of them before the last 82 days, and every
    # two-month stretch from day 126 on has some.
    assert sum(d < 52 * 7 - 82 for d in year) > len(year) // 3
    assert all(any(lo <= d < lo + 60 for d in year) for lo in range(SPREAD_FROM_DAY, 300, 60))
    half = churn_days(26)
    assert min(half) >= 26 * 7 - 82  # the default book's dates are unchanged


def test_seat_changes_back_expansions_and_downgrades(book: LabelledBook) -> None:
    seats: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for e in book.events:
        if e["type"] == "account" and "licensed_seats" in e:
            seats[e["account_id"]].append((e["occurred_at"][:10], e["licensed_seats"]))
    rows = [r for r in book.outcomes if r["outcome"] in ("expanded", "downgraded")]
    assert {r["outcome"] for r in rows} == {"expanded", "downgraded"}
    for row in rows:
        history = seats[row["account_id"]]
        before = [s for d, s in history if d < row["date"]][-1]
        on_day = [s for d, s in history if d == row["date"]]
        assert on_day, row
        if row["outcome"] == "expanded":
            assert on_day[-1] > before
        else:
            assert on_day[-1] < before


def test_dips_recover_and_renewals_are_signed(book: LabelledBook) -> None:
    dips = [r for r in book.outcomes if r["outcome"] == "dipped"]
    assert len(dips) == sum(a.archetype == "dip_recover" for a in book.accounts)
    assert all(r["until"] > r["date"] for r in dips)
    renewals = {
        (e["account_id"], e["occurred_at"][:10])
        for e in book.events
        if e["type"] == "account" and "renewal_date" in e and "sample_archetype" not in e
    }
    renewed = [r for r in book.outcomes if r["outcome"] == "renewed"]
    assert renewed
    assert all((r["account_id"], r["date"]) in renewals for r in renewed)
    assert {r["outcome"] for r in book.outcomes} == {
        "churned",
        "renewed",
        "expanded",
        "downgraded",
        "dipped",
    }


def test_dip_accounts_really_dip(book: LabelledBook) -> None:
    for acc in book.accounts:
        if acc.archetype != "dip_recover" or len(acc.users) < 10:
            continue  # in a tiny team a dip is a person or two: lost in the daily noise
        daily = book.active_users[acc.account_id]
        a, b = acc.story["dip_from"], acc.story["dip_until"]
        before = sum(daily[max(0, a - 28) : a]) / min(28, a)
        during = sum(daily[a + 7 : a + 14]) / 7
        assert during < 0.8 * before, acc.account_id
        if b + 14 <= book.calendar.n_days:  # the two weeks after `until` are back to normal
            assert sum(daily[b : b + 14]) / 14 > 0.75 * before, acc.account_id


def test_holiday_week_visible_in_daily_active_users(book: LabelledBook) -> None:
    totals: Counter[int] = Counter()
    seen: set[tuple[str, str]] = set()
    for e in book.events:
        if e["type"] == "usage":
            key = (e["user_id"], e["occurred_at"][:10])
            if key not in seen:
                seen.add(key)
                totals[_day(book, e["occurred_at"]) // 7] += 1
    holiday = book.calendar.holiday.start // 7
    others = [v for w, v in totals.items() if w != holiday and w >= 4]
    assert totals[holiday] < 0.5 * (sum(others) / len(others))
    # Weekends are much quieter than weekdays.
    by_weekday: Counter[int] = Counter()
    for user_day in seen:
        by_weekday[datetime.fromisoformat(user_day[1]).weekday()] += 1
    assert by_weekday[5] + by_weekday[6] < 0.1 * sum(by_weekday[d] for d in range(5))


def test_small_accounts_and_nuisances_present(book: LabelledBook) -> None:
    small = [a for a in book.accounts if 3 <= len(a.users) <= 20]
    assert len(small) >= 60 // 3
    info = describe_book(book)
    assert info["seasonal_accounts"] >= 1
    assert info["by_type"]["nps"] > 0
    assert info["by_type"]["ticket"] > 0
    healthy_detractors = sum(
        1
        for e in book.events
        if e["type"] == "nps"
        and e["score"] <= 6
        and next(a for a in book.accounts if a.account_id == e["account_id"]).archetype == "healthy"
    )
    assert healthy_detractors >= 1  # noise in healthy accounts too


def test_cli_labelled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events, outcomes = tmp_path / "e.jsonl", tmp_path / "o.jsonl"
    assert main(["sample", "--labelled", "--out", str(events)]) == 2
    assert "--outcomes" in capsys.readouterr().err
    args = ["--out", str(events), "--outcomes", str(outcomes), "--accounts", "12", "--weeks", "8"]
    assert main(["sample", "--labelled", *args]) == 0
    summary = json.loads(capsys.readouterr().err)
    assert summary["accounts"] == 12
    assert summary["events"] == len(events.read_text().splitlines())
    assert all("outcome" in json.loads(line) for line in outcomes.read_text().splitlines())
