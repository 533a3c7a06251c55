"""The book of accounts: how many of each archetype, each account drawn, its story turned
into user availability and dates, and the stories that cut across archetypes (renewals,
seat expansions, CSM changes, silent surveys, accounts retold as new customers)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from datetime import date, timedelta

from workers.local.sample.book import _Account
from workers.local.sample.catalogue import (
    _ARR_PER_SEAT,
    _CHAMPION_WEEK,
    _CONVERTED,
    _HABIT_DAYS,
    _NAME_STEMS,
    _NAME_TRADES,
    _NEEDS_TEAM,
    _OFF_HABIT,
    _ON_HABIT,
    _ONBOARDING_MIX,
    _PLAN,
    _SEGMENT_CYCLE,
    _TZ_OFFSETS,
    _WEEKEND,
    CSMS,
)


def _plan_counts(accounts: int) -> list[str]:
    labels: list[str] = []
    for name, share in _PLAN:
        wanted = max(1, round(share * accounts)) if accounts >= 30 else round(share * accounts)
        labels.extend([name] * wanted)
    labels = labels[:accounts]
    labels.extend(["healthy"] * (accounts - len(labels)))
    return labels


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
