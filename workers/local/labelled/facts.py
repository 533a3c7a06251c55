"""Account facts (the CRM's side: the initial record, renewals, seat changes, churn) and the
outcomes file rows that say what happened, written from the same decisions so the two can
never disagree."""

from __future__ import annotations

import random
from typing import Any

from workers.local.labelled.builder import DAY, Builder
from workers.local.labelled.catalogue import CHURN_KINDS, Calendar
from workers.local.labelled.plan import Account, _years_before
from workers.local.sample.activity import initial_facts

Outcome = dict[str, str]


def account_facts(
    rng: random.Random, b: Builder, acc: Account, cal: Calendar, accounts: int
) -> list[Outcome]:
    """The account's events; returns its outcome rows (CONTRACT.md's outcomes file, plus the
    `dipped` extension for a real, later-recovered dip)."""
    outcomes: list[Outcome] = []
    s = acc.story
    initial: dict[str, Any] = {
        **initial_facts(acc),
        "status": "active",
        # Ground truth for tests and people (ignored by the contract): the account's story.
        "sample_archetype": acc.archetype,
    }
    if acc.seasonal:
        initial["sample_vertical"] = "education"
    if "warning" in s:
        initial["sample_warning"] = s["warning"]
    if acc.first_day:
        # A new customer is created in the CRM early on its first day, before anyone logs in.
        b.add(acc.first_day * DAY + (7 - acc.tz) * 3600, "account", acc, initial)
    else:
        b.add((acc.index * 5 * 3600) // max(accounts, 1), "account", acc, initial)

    def on(day: int, fields: dict[str, Any], outcome: str | None = None) -> None:
        # 12:00-18:00 UTC: office hours in Europe and the Americas, and the same UTC date as
        # the outcome row.
        b.add(day * DAY + 12 * 3600 + rng.randrange(6 * 3600), "account", acc, fields)
        if outcome:
            outcomes.append(_row(acc, outcome, cal, day))

    per_seat = acc.arr / acc.seats
    seats = acc.seats
    if "true_up_day" in s:
        seats = max(1, seats + s["true_up"])
        on(s["true_up_day"], {"licensed_seats": seats, "arr": _money(seats * per_seat)})
    if acc.archetype == "expansion":
        seats += s["more_seats"]
        fields = {"licensed_seats": seats, "arr": _money(seats * per_seat)}
        on(s["expand_day"], fields, "expanded")
    if acc.archetype == "downgrade":
        seats = max(3, min(seats - 1, round(seats * (s["floor"] + 0.1))))
        renewal = _years_before(acc.renewal_date, -1).isoformat()
        fields = {"licensed_seats": seats, "arr": _money(seats * per_seat), "renewal_date": renewal}
        on(s["down_day"], fields, "downgraded")
    elif acc.archetype in CHURN_KINDS:
        assert acc.churn_day is not None
        on(acc.churn_day, {"status": "churned"}, "churned")
    else:
        renewal_day = (acc.renewal_date - cal.start).days
        signed = renewal_day - rng.randint(0, 21)
        if signed < max(0, acc.first_day):
            signed = renewal_day  # no time to sign early: signed on the day
        if max(0, acc.first_day) <= renewal_day < cal.n_days:
            # Signed shortly before the renewal date: next year's term, a price uplift.
            arr = _money(seats * per_seat * rng.uniform(1.03, 1.08))
            renewal = _years_before(acc.renewal_date, -1).isoformat()
            on(signed, {"renewal_date": renewal, "arr": arr}, "renewed")
    if acc.archetype == "dip_recover":
        row = _row(acc, "dipped", cal, s["dip_from"])
        row["until"] = cal.date(s["dip_until"]).isoformat()
        outcomes.append(row)
    return outcomes


def _row(acc: Account, outcome: str, cal: Calendar, day: int) -> Outcome:
    return {"account_id": acc.account_id, "outcome": outcome, "date": cal.date(day).isoformat()}


def _money(value: float) -> float:
    return float(round(value, -2))
