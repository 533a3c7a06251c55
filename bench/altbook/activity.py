"""Users and their usage: one usage event per active user-day.

A user is active on a day when they are on the roster (joined, not left), engaged (their
random rank is below the account's engaged share that day), not on vacation, it is one of
their working days, and a coin with their activity rate times the day's multiplier (weekly
rhythm, public holiday, year-end break) comes up. Champions follow their own style.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from altbook.days import RHYTHMS, Calendar, stamp, work_seconds
from altbook.plan import Account

CORE_FEATURES = ("dashboards", "reports", "alerts", "integrations", "automation", "exports")
OTHER_FEATURES = (
    "search", "comments", "sharing", "api_tokens", "admin_console", "mobile_app",
    "calendar_sync", "imports", "templates", "billing_portal", "audit_log", "forms",
)  # fmt: skip

Event = dict[str, object]


@dataclass
class User:
    user_id: str
    rank: float  # engaged while rank < the account's engaged share
    rate: float  # chance of activity on a working day
    features: list[str]
    weekdays: frozenset[int] | None = None  # part-timers' fixed days (None: the rhythm)
    joined: int = 0
    left: int = 10**6
    away: list[tuple[int, int]] = field(default_factory=list)  # vacations [first, last)
    logins: frozenset[int] | None = None  # an irregular champion's login days


@dataclass
class Roster:
    users: list[User]
    champion: User
    new_champion: User | None = None  # named on `Account.champion_change`


def _features(rng: random.Random) -> tuple[list[str], list[str]]:
    """The account's adopted core features and other features."""
    adopted = rng.choices((6, 5, 4, 3, 2), weights=(35, 30, 17, 12, 6))[0]
    core = rng.sample(CORE_FEATURES, adopted)
    return core, rng.sample(OTHER_FEATURES, rng.randint(2, 6))


def _vacations(rng: random.Random, n: int, count: int, lo: int, hi: int) -> list[tuple[int, int]]:
    out = []
    for _ in range(count):
        first = rng.randint(0, max(0, n - 1))
        out.append((first, first + rng.randint(lo, hi)))
    return out


def build_roster(acc: Account, cal: Calendar, rng: random.Random) -> Roster:
    n = cal.days
    core, other = _features(rng)
    size = max(2, round(acc.seats * acc.util))
    users: list[User] = []
    for k in range(size):
        rank = 0.0 if k == 0 else rng.random()
        rate = min(0.95, acc.activity * rng.lognormvariate(0.0, 0.45))
        # Round robin over the adopted core features, so the roster together uses them.
        favourite = [core[k % len(core)], rng.choice(core), rng.choice(other)]
        if rng.random() < 0.5:
            favourite.append(rng.choice(core + other))
        user = User(f"{acc.account_id}-p{k + 1:04d}", rank, rate, favourite)
        if k > 0 and rng.random() < 0.22:  # part time: two or three fixed days a week
            days = 6 if acc.rhythm == "six_day" else 5
            user.weekdays = frozenset(rng.sample(range(days), rng.randint(2, 3)))
            user.rate = rng.uniform(0.55, 0.8)
        if k > 0 and rng.random() < 0.45:
            user.away = _vacations(rng, n, 1, 5, 12)
        if acc.onboarding:
            user.joined = acc.start_day + int(rng.expovariate(1 / 10))
        users.append(user)
    champion = users[0]
    champion.joined = acc.start_day
    champion.rate = rng.uniform(0.7, 0.9)
    champion.features = list(core) + [rng.choice(other)]
    if acc.champion_style == "irregular":  # logs in every 5-9 days
        logins, d = set(), acc.start_day + rng.randint(0, 6)
        while d < n:
            logins.add(d + (7 - cal.day(d).weekday()) % 7 if cal.day(d).weekday() >= 5 else d)
            d += rng.randint(5, 9)
        champion.logins = frozenset(logins)
        if rng.random() < 0.5:
            champion.away = _vacations(rng, n, 1, 7, 14)
    elif acc.champion_style == "vacationer":
        champion.away = _vacations(rng, n, rng.randint(1, 2), 10, 14)
    else:
        champion.away = _vacations(rng, n, 1, 4, 9) if rng.random() < 0.5 else []
    if acc.champion_leaves is not None:
        champion.left = acc.champion_leaves
    roster = Roster(users, champion)
    if acc.champion_change is not None and len(users) > 1:
        champion.left = acc.champion_change - rng.randint(0, 14)
        roster.new_champion = users[1]
        users[1].rank, users[1].rate = 0.0, max(users[1].rate, 0.6)
    if acc.new_seats is not None and acc.shape == "expander" and acc.change_day is not None:
        # New users arrive over the three weeks after the seats are bought.
        extra = round((acc.new_seats - acc.seats) * rng.uniform(0.6, 0.85))
        for k in range(extra):
            rate = min(0.95, acc.activity * rng.lognormvariate(0.0, 0.35))
            favourite = [rng.choice(core), rng.choice(core), rng.choice(other)]
            user = User(f"{acc.account_id}-p{size + k + 1:04d}", 0.0, rate, favourite)
            user.joined = acc.change_day + rng.randint(1, 21)
            users.append(user)
    if acc.shape == "downgrader" and acc.change_day is not None and acc.new_seats is not None:
        keep = acc.new_seats / max(1, len(users))
        for user in users[1:]:
            if user.rank > keep:
                user.left = min(user.left, acc.change_day + rng.randint(0, 10))
    return roster


def day_multipliers(acc: Account, cal: Calendar, rng: random.Random) -> list[float]:
    """Per day: weekly rhythm x public holiday x year-end break, for this account."""
    rhythm = RHYTHMS[acc.rhythm]
    out = [rhythm[cal.day(d).weekday()] for d in range(cal.days)]
    for d, (regions, factor) in cal.public_holidays().items():
        if acc.region in regions:
            out[d] *= factor
    brk = cal.year_end_break()
    if brk:
        # Usage falls by 60-85% in each of the two weeks; Christmas and New Year's Day lower.
        weekly = (rng.uniform(0.15, 0.4), rng.uniform(0.15, 0.4))
        for d in brk:
            out[d] *= weekly[0 if d - brk.start < 7 else 1]
            day = cal.day(d)
            if (day.month, day.day) in ((12, 25), (12, 26), (1, 1)):
                out[d] *= 0.2
    return out


def usage_events(acc: Account, roster: Roster, cal: Calendar, rng: random.Random) -> list[Event]:
    n = cal.days
    mult = day_multipliers(acc, cal, rng)
    last = n if acc.churn_day is None else acc.churn_day
    engaged = [acc.engaged(d) for d in range(n)]
    events: list[Event] = []
    aid = acc.account_id

    def emit(d: int, user: User) -> None:
        events.append(
            {
                "type": "usage",
                "event_id": f"{aid}.u{len(events) + 1}",
                "account_id": aid,
                "occurred_at": stamp(cal.day(d), work_seconds(rng, acc.region)),
                "user_id": user.user_id,
                "feature": rng.choice(user.features),
                "quantity": 1 + int(rng.expovariate(1 / 7)),
            }
        )

    champions = {id(roster.champion)} | (
        {id(roster.new_champion)} if roster.new_champion is not None else set()
    )
    for d in range(acc.start_day, last):
        weekday = cal.day(d).weekday()
        m = mult[d]
        e = engaged[d]
        for user in roster.users:
            if d < user.joined or d >= user.left or user.rank >= e:
                continue
            if user.away and any(a <= d < b for a, b in user.away):
                continue
            if user.logins is not None:
                if d in user.logins and rng.random() < min(1.0, m + 0.3):
                    emit(d, user)
                continue
            if user.weekdays is not None:  # part time: their own days, holidays still count
                if weekday not in user.weekdays:
                    continue
                chance = user.rate * m / RHYTHMS[acc.rhythm][weekday]
            else:
                chance = user.rate * m
            if id(user) in champions and acc.decline is not None:
                chance *= max(0.35, e)
            if rng.random() < min(chance, 0.97):
                emit(d, user)
    if acc.churn_day is not None and rng.random() < 0.3:
        # Nearly silent after the churn: a straggler or two.
        for _ in range(rng.randint(1, 3)):
            d = acc.churn_day + rng.randint(1, 14)
            if d < n:
                emit(d, rng.choice(roster.users))
    return events
