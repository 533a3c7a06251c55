"""The book's accounts: who they are (segment, team, seats, contract), which story each tells,
and that story's dates. Nothing here makes events; usage.py, support.py and facts.py read it.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from workers.local.labelled.catalogue import (
    CHAMPION_WEEK,
    CSMS,
    EXPANSION_SEGMENT_WEIGHTS,
    HABIT_DAYS,
    OFF_HABIT,
    ON_HABIT,
    SEASONAL_SHARE,
    SEGMENT_WEIGHTS,
    SHARES,
    TEAM_SIZE,
    WEEKEND,
    Calendar,
)
from workers.local.sample.catalogue import _ARR_PER_SEAT, _NAME_STEMS, _NAME_TRADES, _TZ_OFFSETS

# The earliest churn or downgrade day of a book longer than 26 weeks: the 120-day window before
# it then fits in the book.
SPREAD_FROM_DAY = 126


@dataclass
class Account:
    """One account and its story. Days are book days (0 = the first day)."""

    index: int
    account_id: str
    name: str
    archetype: str
    segment: str
    seats: int
    arr: float
    csm_id: str
    tz: int
    users: list[str]
    week_p: list[tuple[float, ...]]  # per user: activity probability for each weekday
    rank: list[int]  # per user: who stays longest when the account shrinks (0 = last to go)
    champion: int
    contract_start: date
    renewal_date: date
    first_day: int = 0  # new customers: nothing before this day
    churn_day: int | None = None
    seasonal: bool = False
    story: dict[str, Any] = field(default_factory=dict)

    @property
    def champion_id(self) -> str:
        return self.users[self.champion]


def archetype_counts(accounts: int) -> list[str]:
    """The archetype of every account (before shuffling): each share rounded, `healthy` for
    the rest, so 300 accounts give 165 healthy, 24 gradual churners, 15 sudden ones, ..."""
    labels: list[str] = []
    for name, share in SHARES:
        labels.extend([name] * round(share * accounts))
    labels = labels[:accounts]
    return labels + ["healthy"] * (accounts - len(labels))


def plan_book(rng: random.Random, accounts: int, cal: Calendar) -> list[Account]:
    """Draw every account and its story, deterministically from `rng`."""
    labels = archetype_counts(accounts)
    rng.shuffle(labels)
    width = max(3, len(str(accounts)))
    names: set[str] = set()
    nth: dict[str, int] = {}
    book: list[Account] = []
    for index, label in enumerate(labels):
        k = nth.get(label, 0)
        nth[label] = k + 1
        acc = _draw_account(rng, index, label, k, cal, width, names)
        book.append(acc)
    return book


def _draw_account(
    rng: random.Random,
    index: int,
    archetype: str,
    nth: int,
    cal: Calendar,
    width: int,
    names: set[str],
) -> Account:
    account_id = f"acct-{index + 1:0{width}d}"
    if archetype == "healthy_full":
        segment = "smb"
    elif archetype == "expansion":
        segment = _weighted(rng, EXPANSION_SEGMENT_WEIGHTS)
    else:
        segment = _weighted(rng, SEGMENT_WEIGHTS)
    lo, hi, mode = TEAM_SIZE[segment]
    n_users = int(rng.triangular(lo, hi, mode))
    dense = archetype in ("healthy_full", "expansion")
    if archetype == "healthy_full":
        n_users = rng.randint(4, 22)
        seats = n_users + rng.randint(0, 1)
    elif archetype == "expansion":
        seats = n_users
        n_users += rng.randint(0, 2)  # more people than seats want in
    else:
        seats = max(n_users, math.ceil(n_users / rng.uniform(0.72, 0.92)))
    arr_lo, arr_hi = _ARR_PER_SEAT[segment]
    arr = float(round(seats * rng.uniform(arr_lo, arr_hi), -2))
    users = [f"{account_id}-u{k:03d}" for k in range(1, n_users + 1)]
    habits = HABIT_DAYS["dense" if dense else segment]
    week_p: list[tuple[float, ...]] = []
    for _ in users:
        days = rng.sample(range(5), rng.choice(habits))
        week = [ON_HABIT if d in days else OFF_HABIT for d in range(5)]
        week_p.append((*week, WEEKEND, WEEKEND))
    champion = rng.randrange(n_users)
    week_p[champion] = CHAMPION_WEEK
    order = list(range(n_users))
    rng.shuffle(order)
    rank = [0] * n_users
    for r, u in enumerate(order):
        rank[u] = r
    # The champion is among the last to go unless the story says otherwise.
    rank[champion], rank[order[0]] = 0, rank[champion]

    anniversary = cal.start + timedelta(days=rng.randrange(365))
    acc = Account(
        index=index,
        account_id=account_id,
        name=_unique_name(rng, names),
        archetype=archetype,
        segment=segment,
        seats=seats,
        arr=arr,
        csm_id=rng.choice(CSMS),
        tz=rng.choice(_TZ_OFFSETS),
        users=users,
        week_p=week_p,
        rank=rank,
        champion=champion,
        contract_start=_years_before(anniversary, rng.randint(1, 4)),
        renewal_date=anniversary,
        seasonal=rng.random() < SEASONAL_SHARE,
    )
    acc.story["nth"] = nth
    _shape(rng, acc, cal)
    return acc


def _shape(rng: random.Random, acc: Account, cal: Calendar) -> None:
    """The story's dates. Churn and downgrade dates fall late enough that the evaluator's
    30/60/120-day windows before them mostly fit inside the book: in the last 82 days of a
    26-week book, and from day SPREAD_FROM_DAY on in a longer one. A year-long book spreads
    them over its last eight months, as a real book's churn runs all year; bunched into its
    last 82 days they made every warning of the year arrive in one season."""
    n = cal.n_days
    kind = acc.archetype
    s = acc.story
    late_lo, late_hi = min(max(n // 2, n - 82), SPREAD_FROM_DAY), n - 8
    if kind == "new_customer":
        acc.first_day = rng.randint(7, max(8, n // 2))
        acc.contract_start = cal.date(acc.first_day)
        acc.renewal_date = _years_before(acc.contract_start, -1)
    elif kind in ("gradual_churn", "sudden_churn"):
        churn = rng.randint(late_lo, late_hi)
        acc.churn_day = churn
        acc.renewal_date = cal.date(churn)  # they do not renew
        acc.contract_start = _years_before(acc.renewal_date, rng.randint(1, 4))
        if kind == "gradual_churn":
            s["decline_from"] = max(21, churn - rng.randint(8, 16) * 7)
            s["floor"] = rng.uniform(0.1, 0.3)
            if rng.random() < 0.4:  # the champion drifts away with the rest
                acc.rank[acc.champion] = len(acc.users) // 2
        else:
            s["warning"] = _cycle(acc, ("champion_leaves", "escalation", "cliff"))
            s["warning_day"] = max(28, churn - rng.randint(45, 100))
            s["cliff"] = rng.uniform(0.3, 0.5)
    elif kind == "dip_recover":
        for _ in range(50):
            start = rng.randint(35, max(36, n - 50))
            length = rng.randint(3, 6) * 7
            if not cal.near_nuisance(start, start + length + 5):
                break
        s["dip_from"], s["dip_until"] = start, min(n - 1, start + length + 5)
        s["depth"] = rng.uniform(0.35, 0.6)
        s["detractor"] = rng.random() < 0.4
        s["escalation"] = rng.random() < 0.3
    elif kind == "expansion":
        expand = rng.randint(min(max(70, n // 2 - 14), n - 10), n - 7)
        s["expand_day"] = expand
        s["grow_from"] = max(14, expand - rng.randint(6, 12) * 7)
        s["base"] = rng.uniform(0.62, 0.75)
        s["more_seats"] = max(2, math.ceil(acc.seats * rng.uniform(0.2, 0.5)))
    elif kind == "downgrade":
        down = rng.randint(late_lo, late_hi)
        s["down_day"] = down
        s["shrink_from"] = max(21, down - rng.randint(6, 10) * 7)
        s["floor"] = rng.uniform(0.5, 0.65)
        acc.renewal_date = cal.date(down)  # the downgrade is signed at renewal
        acc.contract_start = _years_before(acc.renewal_date, rng.randint(1, 4))
    if kind in ("healthy", "healthy_full") and rng.random() < 0.1:
        s["true_up_day"] = rng.randint(14, n - 7)  # a seat or two, not an expansion
        s["true_up"] = rng.choice((-1, 1, 2))


def _cycle(acc: Account, options: tuple[str, ...]) -> str:
    return options[acc.story["nth"] % len(options)]


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _unique_name(rng: random.Random, names: set[str]) -> str:
    for attempt in range(1000):
        name = f"{rng.choice(_NAME_STEMS)} {rng.choice(_NAME_TRADES)}"
        if attempt > 50:
            name = f"{name} {attempt}"
        if name not in names:
            names.add(name)
            return name
    raise RuntimeError("no unique account name")  # pragma: no cover
