"""The events an account's story produces: usage, support tickets, NPS responses and
account facts."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any

from workers.local.sample.book import _DAY, _Account, _Builder, _is_off, _work_hour_sec
from workers.local.sample.catalogue import (
    _DETRACTOR_COMMENTS,
    _ESCALATION_SUBJECTS,
    _EVENTS_PER_DAY,
    _EVENTS_PER_DAY_WEIGHTS,
    _FEATURE_MIX,
    _LOW_ADOPTION_MIX,
    _PROMOTER_COMMENTS,
    _TICKET_SUBJECTS,
)


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


def ticket_lifecycle(
    b: Any, acc: Any, ticket_id: str, steps: Iterable[tuple[int, str, str]], subject: str
) -> None:
    """Add one ticket's (second, status, priority) steps, never going back in time; the
    subject goes on the opening. Shared by the demo sample and the labelled book (`b` has
    `add(second, kind, account, fields)`)."""
    last = -1
    for sec, status, priority in steps:
        sec = max(sec, last + 60)  # a lifecycle never goes back in time
        fields: dict[str, Any] = {"ticket_id": ticket_id, "status": status, "priority": priority}
        if status == "opened":
            fields["subject"] = subject
        b.add(sec, "ticket", acc, fields)
        last = sec


def initial_facts(acc: Any) -> dict[str, Any]:
    """The contract's account facts an account starts with (demo sample and labelled book)."""
    return {
        "name": acc.name,
        "segment": acc.segment,
        "licensed_seats": acc.seats,
        "arr": acc.arr,
        "csm_id": acc.csm_id,
        "champion_user_id": acc.champion_id,
        "contract_start": acc.contract_start.isoformat(),
        "renewal_date": acc.renewal_date.isoformat(),
    }


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
    ticket_lifecycle(b, acc, ticket_id, steps, subject)


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
        **initial_facts(acc),
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
