"""Usage: who is in the product on which day, and what they do.

Two things decide whether a user is active on a day. The account's *level* (the share of its
team still using the product, from the story: a decline, a dip, growth) keeps the users whose
rank is below it, so a shrinking account loses people for good rather than by dice. Then the
user's own week (habit days, weekends) and *absences* (vacations, the holiday week, the
seasonal dip) decide the day. The nuisances are absences: they hit healthy and troubled
accounts alike, which is what makes naive week-over-week rules noisy.
"""

from __future__ import annotations

import random
from bisect import bisect
from datetime import timedelta

from workers.local.labelled.builder import Builder, work_sec
from workers.local.labelled.catalogue import SEASONAL_ABSENT, SECOND_EVENT, Calendar
from workers.local.labelled.plan import Account
from workers.local.sample.catalogue import _FEATURE_MIX


def level_curve(acc: Account, n_days: int) -> list[float]:
    """Share of the team using the product on each day (1.0 = everyone)."""
    s = acc.story
    kind = acc.archetype
    level = [1.0] * n_days
    for d in range(n_days):
        if kind == "new_customer":
            level[d] = min(1.0, 0.3 + 0.7 * (d - acc.first_day) / 21)
        elif kind == "gradual_churn":
            level[d] = _ramp(d, s["decline_from"], acc.churn_day or n_days, 1.0, s["floor"])
        elif kind == "sudden_churn":
            w, churn = s["warning_day"], acc.churn_day or n_days
            if s["warning"] == "cliff":
                cliff = _ramp(d, w, w + 3, 1.0, s["cliff"])
                level[d] = cliff * _ramp(d, w + 3, churn, 1.0, 0.8)
            elif s["warning"] == "escalation":
                level[d] = _ramp(d, w + 14, churn, 1.0, 0.75)
            else:
                level[d] = _ramp(d, w, churn, 1.0, 0.8)
        elif kind == "dip_recover":
            a, b, depth = s["dip_from"], s["dip_until"], s["depth"]
            if a <= d < b - 5:
                level[d] = 1.0 - depth
            elif b - 5 <= d < b:
                level[d] = 1.0 - depth * (b - d) / 6
        elif kind == "expansion":
            level[d] = _ramp(d, s["grow_from"], s["expand_day"] - 7, s["base"], 1.0)
        elif kind == "downgrade":
            level[d] = _ramp(d, s["shrink_from"], s["down_day"] - 7, 1.0, s["floor"])
    return level


def _ramp(d: int, start: int, end: int, before: float, after: float) -> float:
    if d < start:
        return before
    if d >= end:
        return after
    return before + (after - before) * (d - start) / max(1, end - start)


def absences(rng: random.Random, acc: Account, cal: Calendar) -> list[bytearray]:
    """Per user, 1 on the days they are away: 1-2 vacations of 7-12 days (champions too), the
    holiday week (each user away with the account's holiday share, 50-80%), the two-day
    holiday, and for education accounts the seasonal dip."""
    n = cal.n_days
    holiday_share = rng.uniform(0.5, 0.8)
    away: list[bytearray] = []
    for _ in acc.users:
        days = bytearray(n)
        for _ in range(rng.choice((1, 1, 2))):
            first = rng.randrange(-5, n)
            for d in range(max(0, first), min(n, first + rng.randint(7, 12))):
                days[d] = 1
        if rng.random() < holiday_share:
            for d in cal.holiday:
                days[d] = 1
        if rng.random() < 0.7:
            for d in cal.short_holiday:
                days[d] = 1
        if acc.seasonal and rng.random() < SEASONAL_ABSENT:
            for d in cal.seasonal:
                days[d] = 1
        away.append(days)
    if acc.archetype == "sudden_churn" and acc.story["warning"] == "champion_leaves":
        gone = away[acc.champion]
        for d in range(acc.story["warning_day"], n):
            gone[d] = 1  # the champion left the company
    return away


class _FeaturePicker:
    """The account's feature mix; `narrow` keeps only its first k features (a churner's use
    shrinking to a couple of habits)."""

    def __init__(self, rng: random.Random) -> None:
        rest = [f for f in _FEATURE_MIX if f != "dashboards"]
        rng.shuffle(rest)
        self.order = ["dashboards", *rest]
        self.cum: dict[int, list[int]] = {}
        for k in range(1, len(self.order) + 1):
            total, cum = 0, []
            for f in self.order[:k]:
                total += _FEATURE_MIX[f][0]
                cum.append(total)
            self.cum[k] = cum

    def pick(self, rng: random.Random, k: int) -> str:
        cum = self.cum[k]
        return self.order[bisect(cum, rng.random() * cum[-1])]


def usage(rng: random.Random, b: Builder, acc: Account, cal: Calendar) -> list[int]:
    """Usage events for the whole book; returns the active users per day (for checks)."""
    n = cal.n_days
    level = level_curve(acc, n)
    away = absences(rng, acc, cal)
    features = _FeaturePicker(rng)
    full = len(features.order)
    narrowing = acc.archetype == "gradual_churn"
    last = n if acc.churn_day is None else min(n, acc.churn_day + 1)
    n_users = len(acc.users)
    active_per_day = [0] * n
    for d in range(acc.first_day, last):
        weekday = (cal.start + timedelta(days=d)).weekday()
        keep = level[d] * n_users
        k = max(2, round(full * level[d])) if narrowing else full
        for u, user in enumerate(acc.users):
            if acc.rank[u] >= keep or away[u][d] or rng.random() >= acc.week_p[u][weekday]:
                continue
            active_per_day[d] += 1
            for _ in range(2 if rng.random() < SECOND_EVENT else 1):
                feature = features.pick(rng, k)
                _, q_lo, q_hi = _FEATURE_MIX[feature]
                fields = {"user_id": user, "feature": feature, "quantity": rng.randint(q_lo, q_hi)}
                b.add(work_sec(rng, d, acc.tz), "usage", acc, fields)
    if acc.churn_day is not None:
        _trickle(rng, b, acc, n)
    return active_per_day


def _trickle(rng: random.Random, b: Builder, acc: Account, n: int) -> None:
    """After churning, most customers log in once or twice to export their data."""
    assert acc.churn_day is not None
    if rng.random() >= 0.6:
        return
    stayers = sorted(range(len(acc.users)), key=lambda u: acc.rank[u])[:2]
    for _ in range(rng.randint(1, 3)):
        d = acc.churn_day + rng.randint(1, 5)
        user = acc.users[rng.choice(stayers)]
        fields = {"user_id": user, "feature": "exports", "quantity": rng.randint(1, 3)}
        b.add(work_sec(rng, d, acc.tz), "usage", acc, fields, force=True)
