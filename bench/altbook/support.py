"""Support tickets and NPS responses.

Every account files tickets at a rate that grows with its size (a few urgent ones and rare
escalations even on healthy accounts); NPS comes from two survey waves a quarter apart and
from the stories: the bad support experience (escalations, then a detractor), the quiet
churner (tickets piling up unresolved, a detractor), the slow decliner's sinking scores.
"""

from __future__ import annotations

import random

from altbook.activity import Event, Roster
from altbook.days import Calendar, stamp, work_seconds
from altbook.plan import Account

SUBJECTS = (
    "Export times out on large reports", "SSO login loop", "Alert emails arrive late",
    "Dashboard filter resets", "Webhook retries failing", "Invoice shows wrong seat count",
    "Automation rule skipped a run", "Integration token expired", "Slow search on archive",
    "Permissions for contractors", "Data missing after import", "Mobile app crashes on open",
)  # fmt: skip
DETRACTOR_COMMENTS = (
    "Support took weeks and the issue is still open.",
    "We keep hitting the same bugs.",
    "Too expensive for what the team actually uses.",
    "Nobody answers our tickets.",
)
PROMOTER_COMMENTS = ("The dashboards save us hours.", "Great support team.", "Love automation.")


class _Tickets:
    def __init__(self, acc: Account, cal: Calendar, rng: random.Random) -> None:
        self.acc, self.cal, self.rng = acc, cal, rng
        self.events: list[Event] = []
        self.count = 0
        self.stop = cal.days if acc.churn_day is None else acc.churn_day + 3

    def _emit(self, d: float, ticket: str, status: str, priority: str, **extra: str) -> None:
        day = int(d)
        if day >= self.stop or day >= self.cal.days:
            return
        self.events.append(
            {
                "type": "ticket",
                "event_id": f"{self.acc.account_id}.t{len(self.events) + 1}",
                "account_id": self.acc.account_id,
                "occurred_at": stamp(self.cal.day(day), work_seconds(self.rng, self.acc.region)),
                "ticket_id": ticket,
                "status": status,
                "priority": priority,
            }
            | extra
        )

    def ticket(
        self,
        d: float,
        priority: str,
        *,
        resolve_days: float | None,
        escalate_after: float | None = None,
    ) -> None:
        rng = self.rng
        self.count += 1
        ticket = f"{self.acc.account_id}-tk{self.count}"
        self._emit(d, ticket, "opened", priority, subject=rng.choice(SUBJECTS))
        if rng.random() < 0.4:
            self._emit(d + rng.uniform(0.2, 3), ticket, "updated", priority)
        if escalate_after is not None:
            self._emit(d + escalate_after, ticket, "escalated", priority)
        if resolve_days is not None:
            self._emit(d + resolve_days, ticket, "resolved", priority)
            if rng.random() < 0.7:
                self._emit(d + resolve_days + rng.uniform(1, 5), ticket, "closed", priority)


def ticket_events(acc: Account, cal: Calendar, rng: random.Random) -> list[Event]:
    t = _Tickets(acc, cal, rng)
    weekly = min(2.0, 0.08 + 0.0025 * acc.seats)
    end = cal.days if acc.churn_day is None else acc.churn_day
    d = acc.start_day + rng.expovariate(weekly / 7)
    while d < end:
        priority = rng.choices(("low", "normal", "high", "urgent"), (30, 50, 18, 2))[0]
        escalate = rng.uniform(0.5, 4) if priority == "high" and rng.random() < 0.03 else None
        resolve = rng.lognormvariate(0.7 if priority in ("high", "urgent") else 1.0, 0.8)
        t.ticket(d, priority, resolve_days=resolve, escalate_after=escalate)
        d += rng.expovariate(weekly / 7)
    if acc.burst_day is not None:  # the bad support experience
        first = acc.burst_day
        for k in range(rng.randint(3, 6)):
            priority = "urgent" if rng.random() < 0.4 else "high"
            escalate = rng.uniform(1, 5) if k < 3 and rng.random() < 0.8 else None
            t.ticket(
                first + rng.uniform(0, 20),
                priority,
                resolve_days=rng.uniform(10, 35),
                escalate_after=escalate,
            )
    if acc.quiet_from is not None and acc.churn_day is not None:  # tickets pile up
        d = acc.quiet_from + rng.expovariate(1 / 6)
        while d < acc.churn_day:
            resolve = rng.uniform(15, 45) if rng.random() < 0.5 else None
            t.ticket(d, rng.choice(("normal", "normal", "high")), resolve_days=resolve)
            d += rng.expovariate(1 / rng.uniform(3, 8))
    if acc.dip is not None and rng.random() < 0.5:
        t.ticket(acc.dip[0] + rng.uniform(0, 4), "high", resolve_days=rng.uniform(5, 20))
    return t.events


def nps_events(acc: Account, roster: Roster, cal: Calendar, rng: random.Random) -> list[Event]:
    events: list[Event] = []
    aid = acc.account_id
    end = cal.days if acc.churn_day is None else acc.churn_day

    def respond(d: int, respondent: str, score: int) -> None:
        if not (0 <= d < end):
            return
        event: Event = {
            "type": "nps",
            "event_id": f"{aid}.n{len(events) + 1}",
            "account_id": aid,
            "occurred_at": stamp(cal.day(d), work_seconds(rng, acc.region)),
            "score": max(0, min(10, score)),
            "respondent_id": respondent,
        }
        if score <= 4 and rng.random() < 0.6:
            event["comment"] = rng.choice(DETRACTOR_COMMENTS)
        elif score >= 9 and rng.random() < 0.3:
            event["comment"] = rng.choice(PROMOTER_COMMENTS)
        events.append(event)

    wave_days = [w for w in (52, 143) if w < cal.days]
    panel = max(1, min(6, 1 + acc.seats // 60))
    for wave in wave_days:
        candidates = [u for u in roster.users if u.joined <= wave < u.left]
        for user in rng.sample(candidates, min(panel, len(candidates))):
            if rng.random() > 0.45:
                continue
            mood = acc.sentiment
            if acc.churn_day is not None and acc.shape == "churn_slow":
                mood -= 2.0 * (1.0 - acc.engaged(wave))
            if acc.dip is not None and acc.dip[0] <= wave < acc.dip[1]:
                mood -= 1.0
            score = round(8.2 + mood + rng.gauss(0.0, 1.2))
            respond(wave + rng.randint(0, 10), user.user_id, score)
    if acc.burst_day is not None:
        respond(acc.burst_day + rng.randint(5, 20), roster.champion.user_id, rng.randint(0, 4))
    if acc.quiet_from is not None and acc.churn_day is not None:
        respondent = rng.choice(roster.users).user_id
        first = acc.quiet_from + rng.randint(10, 30)
        respond(first, respondent, rng.randint(6, 7))
        respond(acc.churn_day - rng.randint(30, 90), roster.champion.user_id, rng.randint(2, 6))
    events.sort(key=lambda e: str(e["occurred_at"]))
    return events
