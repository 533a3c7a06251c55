"""The engagement side of the sample (issue 10): CSM touchpoints (activity-events) and success
plans (milestone-events).

Who logs what:
- enterprise and mid-market accounts have a CSM who logs touchpoints in the CRM; smb accounts
  are pooled / digital and have no activity data (the health score uses the champion proxy);
- on cadence: a check-in every 18-27 days (enterprise: meetings and calls; mid-market: emails
  and calls, answered within a day), the QBR booked a month before the contract-cycle date it
  falls due and held on the booked day;
- falling behind: csm-farid is stretched: after two touches early on his accounts hear nothing
  more unless their customer goes quiet (he answers that alert), and he books no QBR
  (cadence_overdue, qbr_due);
- unresponsive customers: the outreach of the CSM goes unanswered while a story's customer is
  away — a silent champion (the champion is the contact), a sliding account, an account whose
  usage stopped — and for one otherwise healthy account that goes quiet for two weeks and then
  answers (customer_unresponsive, opened and resolved);
- success plans: the troubled onboardings' onboarding plans (the integration milestone is
  blocked by the escalated ticket), recent low-adoption customers' adoption plans (the training
  slips), expansion plans done on time, healthy enterprise accounts' adoption plans (one
  milestone a week late, then done).
Each account's events come from a generator of their own (`{seed}:{account}:engagement`), so
the rest of the sample is unchanged by them.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from workers.local.sample.book import _DAY, _Account, _Builder, _work_hour_sec

BEHIND_CSM = "csm-farid"
QBR_EVERY = {"enterprise": 90, "mid_market": 180}
_HOUR = 3600


def logs_touchpoints(acc: _Account) -> bool:
    return acc.segment in QBR_EVERY


def assign_engagement(rng: random.Random, accs: list[_Account]) -> None:
    """Cross-cutting engagement stories, drawn from their own generator."""
    behind = [a for a in accs if logs_touchpoints(a) and a.csm_id == BEHIND_CSM]
    for acc in behind:
        acc.extra["behind"] = True
    quiet = [
        a
        for a in accs
        if logs_touchpoints(a)
        and a.archetype == "healthy"
        and a.csm_id != BEHIND_CSM
        and not {"renewal_story", "new_csm_day"} & set(a.extra)
    ]
    if quiet:
        rng.choice(quiet).extra["goes_quiet"] = True


def _unresponsive_periods(acc: _Account, n_days: int) -> list[tuple[int, int]]:
    """[from, to) days in which the customer answers nothing."""
    x = acc.extra
    kind = acc.archetype
    if kind in ("silent_champion", "silent_champion_returns"):
        return [(x["quiet_day"], x["back_day"])]
    if kind in ("sliding", "sliding_recovers"):
        return [(x["p2"], x["recover"])]
    if kind == "usage_stops" and acc.stop_day is not None:
        return [(acc.stop_day, n_days + 1)]
    if x.get("goes_quiet"):
        scale = n_days / 56
        start = round(22 * scale)
        return [(start, start + max(9, round(14 * scale)))]
    return []


def activities(rng: random.Random, b: _Builder, acc: _Account) -> None:
    if not logs_touchpoints(acc):
        return
    n_days = b.n_days
    periods = _unresponsive_periods(acc, n_days)

    def answers(day: int) -> bool:
        return not any(a <= day < z for a, z in periods)

    def csm(day: int) -> str:
        new_day = acc.extra.get("new_csm_day")
        return acc.extra["new_csm"] if new_day is not None and day >= new_day else acc.csm_id

    counter = [0]

    def touch(sec: int, kind: str, direction: str = "outbound", **extra: Any) -> str:
        counter[0] += 1
        activity_id = f"{acc.account_id}-touch-{counter[0]}"
        fields = {
            "activity_id": activity_id,
            "kind": kind,
            "direction": direction,
            "csm_id": csm(sec // _DAY),
            "contact_id": acc.champion_id,
            **extra,
        }
        b.add(sec, "activity", acc, fields)
        return activity_id

    first = acc.first_day + (0 if acc.first_day else rng.randint(1, 4))
    _qbr(rng, b, acc, first, answers, touch)
    day = first
    waiting = False  # outreach awaiting the customer's reply
    while day < n_days:
        sec = _work_hour_sec(rng, day, acc.tz)
        if answers(day):
            if waiting:
                # Back: the customer answers the emails that waited, then the cadence resumes.
                touch(sec, "email", "inbound")
                waiting = False
                sec += rng.randint(2, 6) * _HOUR
            kind = _checkin_kind(rng, acc)
            activity_id = touch(sec, kind)
            if kind in ("email", "call"):
                reply = sec + rng.randint(1, 26) * _HOUR
                if answers(reply // _DAY):
                    touch(reply, "email" if kind == "email" else "call", "inbound",
                          in_reply_to=activity_id)  # fmt: skip
                else:
                    waiting = True
            elif rng.random() < 0.3:
                touch(sec + _HOUR, "note")  # the meeting's notes: no touchpoint
            behind = acc.extra.get("behind")
            nxt = day + (rng.randint(5, 12) if behind else rng.randint(18, 27))
            if behind and day > first:
                nxt = n_days  # falls behind: no scheduled touch after the second one ...
            for start, _ in periods:
                if day < start < nxt:
                    # ... but the CSM notices the silence (an alert) and reaches out.
                    nxt = min(nxt, start + rng.randint(2, 4))
            day = nxt
        else:
            touch(sec, "email")  # outreach that waits
            waiting = True
            nxt = day + rng.randint(4, 6)
            back = next((z for a, z in periods if a <= day < z), n_days)
            day = min(nxt, back) if back > day else nxt


def _checkin_kind(rng: random.Random, acc: _Account) -> str:
    if acc.segment == "enterprise":
        return rng.choices(("meeting", "call"), (70, 30))[0]
    return rng.choices(("email", "call"), (70, 30))[0]


def _qbr(
    rng: random.Random,
    b: _Builder,
    acc: _Account,
    first: int,
    answers: Callable[[int], bool],
    touch: Callable[..., str],
) -> None:
    """Book the QBR a month before it falls due and hold it on the day (on cadence); csm-farid
    and customers who answer nothing book none."""
    every = QBR_EVERY[acc.segment]
    contract = (acc.contract_start - acc.extra["start"]).days
    cycles = max(1, math.ceil((first - contract) / every))
    due = contract + cycles * every
    if due - 21 >= b.n_days or acc.extra.get("behind"):
        return
    book = max(first, due - 30 - rng.randint(0, 5))
    if not answers(book):
        return
    held = max(book + 3, due - rng.randint(1, 10))
    held_sec = _work_hour_sec(rng, held, acc.tz)
    base = datetime.combine(acc.extra["start"], datetime.min.time(), UTC)
    scheduled = (base + timedelta(seconds=held_sec)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Booked first thing in the (local) morning: before any other touch of that day.
    touch(book * _DAY + (8 - acc.tz) * _HOUR, "qbr", scheduled_for=scheduled)
    if held < b.n_days and answers(held):
        touch(held_sec, "qbr")


# --- success plans --------------------------------------------------------------------------


def success_plan(rng: random.Random, b: _Builder, acc: _Account) -> None:
    kind = acc.archetype
    n_days = b.n_days
    scale = n_days / 56
    start = acc.extra["start"]
    plan_id = f"{acc.account_id}-plan-1"

    def milestone(day: int, mid: str, title: str, phase: str, due: int, status: str) -> None:
        if day >= n_days:
            return
        b.add(
            _work_hour_sec(rng, day, acc.tz),
            "milestone",
            acc,
            {
                "plan_id": plan_id,
                "milestone_id": mid,
                "title": title,
                "phase": phase,
                "owner": acc.champion_id,
                "due_date": (start + timedelta(days=due)).isoformat(),
                "status": status,
            },
        )

    if kind == "troubled_onboarding":
        onboard = acc.extra["onboard_day"]
        created = onboard
        plan = [
            ("kickoff", "Kickoff and success criteria", "onboard", onboard + 2),
            ("sso", "SSO and user provisioning", "onboard", onboard + 7),
            ("integration", "Integration live", "onboard", onboard + 10),
            ("exec-dashboard", "First dashboard shared with executives", "adopt", onboard + 21),
        ]
        for mid, title, phase, due in plan:
            milestone(created, mid, title, phase, due, "planned")
        milestone(onboard + 1, "kickoff", plan[0][1], "onboard", plan[0][3], "done")
        milestone(onboard + 3, "sso", plan[1][1], "onboard", plan[1][3], "in_progress")
        milestone(onboard + 6, "sso", plan[1][1], "onboard", plan[1][3], "done")
        milestone(onboard + 4, "integration", plan[2][1], "onboard", plan[2][3], "in_progress")
        # The integration blocker (the escalated ticket) blocks the milestone.
        milestone(onboard + 9, "integration", plan[2][1], "onboard", plan[2][3], "blocked")
        if acc.extra["nth"] % 2:
            fixed = onboard + 10 + rng.randint(10, 16)
            milestone(fixed, "integration", plan[2][1], "onboard", plan[2][3], "done")
    elif kind == "low_adoption" and acc.extra["nth"] % 2:
        # A recent customer's adoption plan: the training slips and is never held.
        created = rng.randint(1, 3)
        training = round(rng.uniform(12, 16) * scale)
        rollout = round(rng.uniform(28, 34) * scale)
        title = "Reports and alerts training for the team"
        milestone(created, "training", title, "adopt", training, "planned")
        milestone(created, "alerts-rollout", "Alerts rolled out", "adopt", rollout, "planned")
        milestone(training - 4, "training", title, "adopt", training, "in_progress")
    elif kind == "expansion":
        created = rng.randint(1, 4)
        review = round(rng.uniform(14, 20) * scale)
        proposal = round(rng.uniform(40, 50) * scale)
        milestone(created, "value-review", "Value review", "expand", review, "planned")
        milestone(created, "proposal", "Expansion proposal", "expand", proposal, "planned")
        milestone(review - rng.randint(0, 3), "value-review", "Value review", "expand", review,
                  "done")  # fmt: skip
        milestone(proposal - rng.randint(1, 5), "proposal", "Expansion proposal", "expand",
                  proposal, "done")  # fmt: skip
    elif kind == "healthy" and acc.segment == "enterprise":
        created = rng.randint(1, 4)
        rollout = round(rng.uniform(20, 28) * scale)
        exports = round(rng.uniform(42, 50) * scale)
        milestone(created, "automation", "Automation rollout", "adopt", rollout, "planned")
        milestone(created, "exports", "Exports to the data warehouse", "adopt", exports, "planned")
        milestone(rollout - 6, "automation", "Automation rollout", "adopt", rollout, "in_progress")
        # A week late, then done.
        late = rollout + rng.randint(4, 8)
        milestone(late, "automation", "Automation rollout", "adopt", rollout, "done")
        milestone(exports - rng.randint(0, 4), "exports", "Exports to the data warehouse",
                  "adopt", exports, "done")  # fmt: skip
