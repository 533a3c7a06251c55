"""Support tickets and NPS responses: the background every account has (routine tickets, a
rare escalation, mostly promoters and passives with the odd detractor), and the stories' own
signals (a churner's lukewarm survey, a sudden churner's escalation, a dip's detractor)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Any

from workers.local.labelled.builder import Builder, work_sec
from workers.local.labelled.catalogue import Calendar
from workers.local.labelled.plan import Account
from workers.local.sample.activity import ticket_lifecycle
from workers.local.sample.catalogue import (
    _DETRACTOR_COMMENTS,
    _ESCALATION_SUBJECTS,
    _PROMOTER_COMMENTS,
    _TICKET_SUBJECTS,
)

_HOUR = 3600
# Routine tickets per 26 weeks by segment (inclusive range).
_TICKETS = {"smb": (0, 3), "mid_market": (1, 5), "enterprise": (3, 8)}
_RARE_ESCALATION = 0.08  # share of accounts with one escalated ticket in 26 weeks, by chance
# NPS of an ordinary respondent: mostly promoters and passives, a detractor now and then
# (about one a year for an account that answers a few surveys).
_SCORES = (10, 9, 8, 7, 6, 5)
_SCORE_WEIGHTS = (22, 33, 22, 17, 4, 2)


def tickets(rng: random.Random, b: Builder, acc: Account, cal: Calendar) -> None:
    """Routine tickets for everyone, then the story's escalations."""
    n = cal.n_days
    lo, hi = _TICKETS[acc.segment]
    scale = n / 182
    for _ in range(round(rng.randint(lo, hi) * scale)):
        day = rng.randrange(acc.first_day, n)
        priority = rng.choices(("low", "normal", "high"), (35, 50, 15))[0]
        _routine(rng, b, acc, day, priority)
    if rng.random() < _RARE_ESCALATION * scale:
        _escalation(rng, b, acc, rng.randrange(acc.first_day, n), resolve_days=(2, 8))
    s = acc.story
    if acc.archetype == "sudden_churn" and s["warning"] == "escalation":
        _escalation(rng, b, acc, s["warning_day"], resolve_days=(12, 30))
        # The same trouble, reopened under another ticket two weeks later.
        _escalation(rng, b, acc, s["warning_day"] + rng.randint(12, 20), resolve_days=(20, 40))
    elif acc.archetype == "dip_recover" and s["escalation"]:
        _escalation(rng, b, acc, s["dip_from"] + rng.randint(0, 5), resolve_days=(5, 15))


def _routine(rng: random.Random, b: Builder, acc: Account, day: int, priority: str) -> None:
    opened = work_sec(rng, day, acc.tz)
    resolved = opened + rng.randint(4, 120) * _HOUR
    steps = [(opened, "opened", priority)]
    if rng.random() < 0.5:
        steps.append((opened + (resolved - opened) * rng.randint(1, 8) // 10, "updated", priority))
    steps += [
        (resolved, "resolved", priority),
        (resolved + rng.randint(24, 72) * _HOUR, "closed", priority),
    ]
    _ticket(b, acc, steps, rng.choice(_TICKET_SUBJECTS))


def _escalation(
    rng: random.Random, b: Builder, acc: Account, day: int, resolve_days: tuple[int, int]
) -> None:
    opened = work_sec(rng, day, acc.tz)
    priority = "urgent" if rng.random() < 0.4 else "high"
    escalated = opened + rng.randint(2, 30) * _HOUR
    resolved = escalated + rng.randint(*resolve_days) * 24 * _HOUR
    steps = [
        (opened, "opened", priority),
        (escalated, "escalated", "urgent"),
        (escalated + rng.randint(2, 20) * _HOUR, "updated", "urgent"),
        (resolved, "resolved", "urgent"),
        (resolved + rng.randint(24, 72) * _HOUR, "closed", "urgent"),
    ]
    _ticket(b, acc, steps, rng.choice(_ESCALATION_SUBJECTS))


def _ticket(b: Builder, acc: Account, steps: Iterable[tuple[int, str, str]], subject: str) -> None:
    """One ticket's lifecycle; the provisional id is renumbered by opening time later."""
    count = acc.story["tickets"] = acc.story.get("tickets", 0) + 1
    ticket_id = f"{acc.account_id}-draft-{count}"
    ticket_lifecycle(b, acc, ticket_id, steps, subject)


def nps(rng: random.Random, b: Builder, acc: Account, cal: Calendar) -> None:
    """Two survey waves (weeks 6-9 and 16-19 of a 26-week book), then the story's response."""
    n = cal.n_days
    respondents = {"smb": (0, 1, 1), "mid_market": (1, 1, 2), "enterprise": (1, 2, 3)}
    waves = (range(round(n * 0.23), round(n * 0.35)), range(round(n * 0.62), round(n * 0.73)))

    def respond(day: int, user: int, score: int) -> None:
        fields: dict[str, Any] = {"score": score, "respondent_id": acc.users[user]}
        if score <= 6 and rng.random() < 0.7:
            fields["comment"] = rng.choice(_DETRACTOR_COMMENTS)
        elif score >= 9 and rng.random() < 0.3:
            fields["comment"] = rng.choice(_PROMOTER_COMMENTS)
        b.add(work_sec(rng, day, acc.tz), "nps", acc, fields)

    kind, s = acc.archetype, acc.story
    for wave in waves:
        if not wave:
            continue
        day = rng.choice(wave)
        k = rng.choice(respondents[acc.segment])
        for user in rng.sample(range(len(acc.users)), min(k, len(acc.users))):
            score = rng.choices(_SCORES, _SCORE_WEIGHTS)[0]
            if kind == "expansion":
                score = max(score, 8)
            elif kind == "gradual_churn" and day >= s["decline_from"]:
                score = min(score, rng.choice((4, 5, 6, 7, 7, 8)))
            respond(day + rng.randint(0, 4), user, score)
    if kind == "gradual_churn" and rng.random() < 0.6:
        assert acc.churn_day is not None
        mid = (s["decline_from"] + acc.churn_day) // 2
        respond(mid, rng.randrange(len(acc.users)), rng.choice((3, 5, 6, 7, 7, 8)))
    elif kind == "sudden_churn" and s["warning"] == "escalation":
        respond(s["warning_day"] + rng.randint(5, 15), acc.champion, rng.randint(1, 5))
    elif kind == "dip_recover" and s["detractor"]:
        respond(
            s["dip_from"] + rng.randint(2, 10), rng.randrange(len(acc.users)), rng.randint(2, 6)
        )
