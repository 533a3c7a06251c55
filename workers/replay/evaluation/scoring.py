"""Alert quality (DOMAIN.md): the tasks of a backtest scored against what happened.

Pure: tasks, outcomes and the book's span in, one JSON-ready dict out (stable keys; a metric
that cannot be computed — no churners, no healthy accounts, no full week — is None, never an
error). The definitions, where DOMAIN.md leaves a choice, are in DEFINITIONS (printed by
`cs-signals evaluate --help` and the README). All comparisons are by UTC calendar day: a task's
day is the day of its `created_at`, an outcome's day is its `date`, windows include both ends.
"""

from __future__ import annotations

import math
import random
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from workers.replay.evaluation.outcomes import Outcome

__all__ = [
    "DEFINITIONS",
    "NEVER_RISK",
    "RISK_KINDS",
    "TARGETS",
    "Book",
    "ScoredTask",
    "chance_storm",
    "is_risk",
    "score",
    "scored_tasks",
]

RISK_KINDS = frozenset(
    {
        "usage_drop",
        "health_at_risk",
        "health_critical",
        "nps_detractor",
        "champion_silent",
        "low_adoption",
        "support_escalation",
        "customer_unresponsive",
        "milestone_overdue",
        "onboarding_stalled",
    }
)
NEVER_RISK = frozenset({"renewal_approaching", "cadence_overdue", "qbr_due", "expansion_signal"})
EXPANSION = "expansion_signal"

WARMUP_DAYS = 30
QUARTER_DAYS = 91
CHURN_LOOKBACK = 120  # a risk task up to 120 days before the churn can have caught it
PRECISION_HORIZON = 120  # a risk task is right when the account churns within 120 days
DIP_LEAD = 14  # ... or when it falls in a real dip, from 14 days before its start
EXPANSION_LOOKBACK = 90
CHANCE_STORM_DRAWS = 400  # seeded draws of the storm-by-chance estimate (±0.01 on real books)
CHANCE_STORM_EXACT_UP_TO = 20_000  # tasks placed one by one; beyond, a normal approximation

# (metric, comparison, target): the figures a rules file should reach.
TARGETS: dict[str, tuple[str, float]] = {
    "noise": ("<=", 0.3),
    "storm": ("<=", 1.5),
    "precision": (">=", 0.6),
    "churn_recall_30": (">=", 0.85),
    "chance_30": ("<=", 0.25),
    "lead_time": (">=", 45),
    "expansion_recall": (">=", 0.9),
    "false_expansion": ("<=", 0.1),
}

DEFINITIONS = f"""\
Definitions (DOMAIN.md, alert quality; days are UTC calendar days, windows include both ends):
  risk task      an opened task of usage_drop, health_at_risk, health_critical, nps_detractor,
                 champion_silent, low_adoption, support_escalation, customer_unresponsive,
                 milestone_overdue or onboarding_stalled, or of a user-defined playbook opened
                 at high or critical priority (a playbook with a built-in `kind` counts as that
                 kind); renewal_approaching, cadence_overdue, qbr_due, expansion_signal never.
                 Its day is the day of `created_at`.
  book           first to last event day; the first {WARMUP_DAYS} days are the warm-up. Noise,
                 storm, precision, false expansion and CSM load count post-warm-up tasks only;
                 the recall windows count every task. Accounts with events but no outcome row
                 count as renewed; outcome rows of accounts without events are left out.
  healthy        never churned, never dipped, never downgraded (renewed, expanded or no row).
  recall@N       churners with a risk task in [churn-{CHURN_LOOKBACK}d, churn-Nd]. A churner
                 counts when that window reaches the post-warm-up book (churn-Nd on or after
                 the warm-up's end, churn-{CHURN_LOOKBACK}d on or before the last day).
  lead time      churn - the first risk task in [churn-{CHURN_LOOKBACK}d, churn-1d], median over
                 the recall@30 churners that have one (the others are counted).
  chance@N       per counted churner, the share of healthy accounts with a risk task in its
                 window, averaged; lift = recall / chance.
  noise          post-warm-up risk tasks on healthy accounts per healthy account per quarter
                 ({QUARTER_DAYS} days of post-warm-up book), and the share with at least one.
  storm          risk tasks in the worst full Monday-Sunday week after the warm-up / the mean
                 of those weeks; the worst week's tasks that are right (as for precision) and
                 those on healthy accounts are shown beside it. "By chance": the storm the
                 same number of tasks would show with their weeks drawn at random (uniform,
                 seeded, mean of {CHANCE_STORM_DRAWS} draws) -- the floor that timing alone sets.
  precision      share of post-warm-up risk tasks whose account churns 0-{PRECISION_HORIZON} days
                 later, or which fall in a dip (its start - {DIP_LEAD}d to `until`).
  expansion      expanders with an expansion_signal in [expand-{EXPANSION_LOOKBACK}d, expand]
  recall         (counted when the expansion day is after the warm-up and the window reaches
                 the book); false expansion = post-warm-up expansion_signal tasks on accounts
                 that never expanded, per such account per quarter.
  CSM load       post-warm-up risk tasks per owner (owner_id, "unassigned" when null) per full
                 week: mean over every owner and week, and the maximum.
  after churn    opened tasks dated after the account's churn day (pure noise for a CSM).
  dismissed      tasks closed by a `dismissed` feedback / tasks opened, per playbook and reason.
"""


@dataclass(frozen=True, slots=True)
class ScoredTask:
    """What scoring needs of one PlaybookTask message."""

    account_id: str
    playbook: str
    action: str  # opened | updated | resolved
    priority: str
    created_at: datetime
    owner_id: str | None = None
    task_id: str = ""
    dismissed_reason: str | None = None  # a `resolved` closed by a dismissed feedback

    @property
    def day(self) -> date:
        return _day(self.created_at)


@dataclass(frozen=True, slots=True)
class Book:
    """The span of the events and the accounts they name."""

    start: datetime
    end: datetime
    accounts: frozenset[str]


def scored_tasks(tasks: Iterable[Any]) -> list[ScoredTask]:
    """PlaybookTask messages -> ScoredTask (a dismissal is read from the resolution's
    `evidence.feedback`, as workers/core/feedback.py writes it)."""
    out = []
    for task in tasks:
        reason = None
        if task.action == "resolved":
            feedback = (task.evidence or {}).get("feedback")
            if isinstance(feedback, dict) and feedback.get("action") == "dismissed":
                reason = feedback.get("reason") or "other"
        out.append(
            ScoredTask(
                account_id=task.account_id,
                playbook=task.playbook,
                action=task.action,
                priority=task.priority,
                created_at=task.created_at,
                owner_id=task.owner_id,
                task_id=task.task_id,
                dismissed_reason=reason,
            )
        )
    return out


def is_risk(task: ScoredTask, kinds: Mapping[str, str | None] | None = None) -> bool:
    """An opened task that says "this account is at risk" (see DEFINITIONS)."""
    if task.action != "opened":
        return False
    kind = (kinds or {}).get(task.playbook) or task.playbook
    if kind in RISK_KINDS:
        return True
    if kind in NEVER_RISK:
        return False
    return task.priority in ("high", "critical")


def _day(moment: datetime) -> date:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.date()


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _met(name: str, value: float | None) -> bool | None:
    if value is None:
        return None
    op, target = TARGETS[name]
    return value <= target if op == "<=" else value >= target


def _target(name: str, value: float | None) -> dict[str, Any]:
    op, target = TARGETS[name]
    return {"target": f"{op} {target:g}", "met": _met(name, value)}


@dataclass
class _Accounts:
    churn: dict[str, date]
    expand: dict[str, list[date]]
    dips: dict[str, list[tuple[date, date]]]
    downgraded: set[str]
    healthy: list[str]
    never_expanded: list[str]


def _classify(book: Book, outcomes: Iterable[Outcome]) -> _Accounts:
    churn: dict[str, date] = {}
    expand: dict[str, list[date]] = defaultdict(list)
    dips: dict[str, list[tuple[date, date]]] = defaultdict(list)
    downgraded: set[str] = set()
    for row in outcomes:
        if row.account_id not in book.accounts:
            continue
        if row.outcome == "churned":
            previous = churn.get(row.account_id)
            churn[row.account_id] = row.date if previous is None else min(previous, row.date)
        elif row.outcome == "expanded":
            expand[row.account_id].append(row.date)
        elif row.outcome == "dipped":
            dips[row.account_id].append((row.date, row.until or row.date))
        elif row.outcome == "downgraded":
            downgraded.add(row.account_id)
    unhealthy = set(churn) | set(dips) | downgraded
    healthy = sorted(a for a in book.accounts if a not in unhealthy)
    never_expanded = sorted(a for a in book.accounts if a not in expand)
    return _Accounts(churn, dict(expand), dict(dips), downgraded, healthy, never_expanded)


def chance_storm(tasks: int, weeks: int, draws: int = CHANCE_STORM_DRAWS) -> float | None:
    """The storm (worst week / mean week) of `tasks` tasks whose weeks are drawn uniformly at
    random among `weeks`, averaged over seeded draws: deterministic for given counts.

    Why: with a few hundred risk tasks, chance alone makes one week well above the mean (300
    accounts' 192 tasks over 21 weeks: about 1.67), so a storm figure is read against it. Up
    to CHANCE_STORM_EXACT_UP_TO tasks are placed one by one; beyond, each week's count is
    drawn from the normal approximation of its binomial, which is then within a percent."""
    if tasks <= 0 or weeks <= 0:
        return None
    if weeks == 1:
        return 1.0
    rng = random.Random(f"chance-storm:{tasks}:{weeks}")
    mean = tasks / weeks
    total = 0.0
    if tasks <= CHANCE_STORM_EXACT_UP_TO:
        for _ in range(draws):
            total += max(Counter(rng.choices(range(weeks), k=tasks)).values())
    else:
        sd = math.sqrt(mean * (1 - 1 / weeks))
        for _ in range(draws):
            total += max(round(rng.gauss(mean, sd)) for _ in range(weeks))
    return total / draws / mean


def _weeks(first: date, last: date) -> list[date]:
    """Mondays of the full Monday-Sunday weeks within [first, last]."""
    monday = first + timedelta(days=(7 - first.weekday()) % 7)
    weeks = []
    while monday + timedelta(days=6) <= last:
        weeks.append(monday)
        monday += timedelta(days=7)
    return weeks


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def score(
    tasks: Iterable[ScoredTask],
    outcomes: Iterable[Outcome],
    book: Book,
    kinds: Mapping[str, str | None] | None = None,
) -> dict[str, Any]:
    """Every alert-quality figure of DEFINITIONS, overall and per playbook."""
    tasks = list(tasks)
    acc = _classify(book, outcomes)
    first, last = _day(book.start), _day(book.end)
    warm_end = first + timedelta(days=WARMUP_DAYS)  # the first post-warm-up day
    post_days = max(0, (last - warm_end).days + 1)
    quarters = post_days / QUARTER_DAYS
    weeks = _weeks(warm_end, last)
    week_set = set(weeks)

    opened = [t for t in tasks if t.action == "opened"]
    risk = [t for t in opened if is_risk(t, kinds)]
    risk_post = [t for t in risk if t.day >= warm_end]
    risk_days: dict[str, list[date]] = defaultdict(list)
    for t in risk:
        risk_days[t.account_id].append(t.day)
    healthy_set = set(acc.healthy)

    def has_task(days: list[date], lo: date, hi: date) -> bool:
        return any(lo <= d <= hi for d in days)

    # Churn recall, chance and lead time.
    def recall(lag: int, days_of: Mapping[str, list[date]]) -> dict[str, Any]:
        counted, caught = [], []
        chances = []
        for account, churn in sorted(acc.churn.items()):
            lo, hi = churn - timedelta(days=CHURN_LOOKBACK), churn - timedelta(days=lag)
            if hi < warm_end or lo > last:
                continue
            counted.append(account)
            if has_task(days_of.get(account, []), lo, hi):
                caught.append(account)
            if acc.healthy:
                hits = sum(has_task(risk_days.get(h, []), lo, hi) for h in acc.healthy)
                chances.append(hits / len(acc.healthy))
        value = _ratio(len(caught), len(counted))
        chance = statistics.fmean(chances) if chances else None
        lift = value / chance if value is not None and chance else None
        return {
            "value": value,
            "caught": len(caught),
            "churners": len(counted),
            "caught_accounts": caught,
            "missed_accounts": [a for a in counted if a not in caught],
            "chance": chance,
            "lift": lift,
        }

    recall_30 = recall(30, risk_days)
    recall_60 = recall(60, risk_days)
    leads = []
    for account in recall_30["caught_accounts"] + recall_30["missed_accounts"]:
        churn = acc.churn[account]
        lo = churn - timedelta(days=CHURN_LOOKBACK)
        before = [d for d in risk_days.get(account, []) if lo <= d < churn]
        if before:
            leads.append((churn - min(before)).days)
    lead_median = statistics.median(leads) if leads else None

    # Noise on healthy accounts.
    healthy_post = [t for t in risk_post if t.account_id in healthy_set]
    per_healthy = Counter(t.account_id for t in healthy_post)
    noise = len(healthy_post) / len(acc.healthy) / quarters if acc.healthy and quarters else None
    noise_share = _ratio(len(per_healthy), len(acc.healthy))

    # Alert storm and CSM load, over full post-warm-up weeks.
    per_week = Counter(_monday(t.day) for t in risk_post if _monday(t.day) in week_set)
    week_counts = [per_week.get(w, 0) for w in weeks]
    mean_week = statistics.fmean(week_counts) if weeks else None
    worst = max(weeks, key=lambda w: (per_week.get(w, 0), -w.toordinal())) if weeks else None
    storm = (per_week.get(worst, 0) / mean_week) if worst is not None and mean_week else None
    storm_by_chance = chance_storm(sum(week_counts), len(weeks))

    owners = sorted({t.owner_id or "unassigned" for t in tasks})
    load = Counter(
        (t.owner_id or "unassigned", _monday(t.day))
        for t in risk_post
        if _monday(t.day) in week_set
    )
    load_mean = _ratio(sum(load.values()), len(owners) * len(weeks))
    # The busiest owner-week; ties go to the earliest week, then the owner's name.
    load_max = min(load, key=lambda key: (-load[key], key[1], key[0])) if load else None
    csm_load = {
        "mean": load_mean,
        "max": load[load_max] if load_max else (0 if load_mean is not None else None),
        "max_owner": load_max[0] if load_max else None,
        "max_week": load_max[1].isoformat() if load_max else None,
        "owners": len(owners),
        "weeks": len(weeks),
    }

    # Precision.
    def right(t: ScoredTask) -> bool:
        churn = acc.churn.get(t.account_id)
        if churn is not None and 0 <= (churn - t.day).days <= PRECISION_HORIZON:
            return True
        return any(
            start - timedelta(days=DIP_LEAD) <= t.day <= until
            for start, until in acc.dips.get(t.account_id, [])
        )

    hits = [t for t in risk_post if right(t)]
    precision = _ratio(len(hits), len(risk_post))
    # What the worst week is made of: a storm of right alerts (churners' warnings arriving
    # together) asks for different action than a storm on healthy accounts.
    in_worst = [t for t in risk_post if worst is not None and _monday(t.day) == worst]
    worst_right = sum(right(t) for t in in_worst)
    worst_healthy = sum(t.account_id in healthy_set for t in in_worst)

    # Expansion.
    expansion = [t for t in opened if (kinds or {}).get(t.playbook, t.playbook) == EXPANSION]
    exp_days: dict[str, list[date]] = defaultdict(list)
    for t in expansion:
        exp_days[t.account_id].append(t.day)
    exp_counted, exp_caught = [], []
    for account, dates in sorted(acc.expand.items()):
        eligible = [
            d for d in dates if d >= warm_end and d - timedelta(days=EXPANSION_LOOKBACK) <= last
        ]
        if not eligible:
            continue
        exp_counted.append(account)
        if any(
            has_task(exp_days.get(account, []), d - timedelta(days=EXPANSION_LOOKBACK), d)
            for d in eligible
        ):
            exp_caught.append(account)
    never = set(acc.never_expanded)
    false_exp = [t for t in expansion if t.day >= warm_end and t.account_id in never]
    false_rate = (
        len(false_exp) / len(acc.never_expanded) / quarters
        if acc.never_expanded and quarters
        else None
    )
    exp_recall = _ratio(len(exp_caught), len(exp_counted))

    # After churn.
    after = [t for t in opened if t.account_id in acc.churn and t.day > acc.churn[t.account_id]]
    after_risk = [t for t in after if is_risk(t, kinds)]

    # Dismissals.
    dismissals = [t for t in tasks if t.dismissed_reason is not None]
    opened_by_pb = Counter(t.playbook for t in opened)
    dismissed_by_pb: dict[str, Counter[str]] = defaultdict(Counter)
    for t in dismissals:
        dismissed_by_pb[t.playbook][t.dismissed_reason or "other"] += 1
    by_reason = Counter(t.dismissed_reason for t in dismissals)

    # Per playbook.
    playbooks: dict[str, Any] = {}
    for pb in sorted(opened_by_pb):
        pb_opened = [t for t in opened if t.playbook == pb]
        pb_risk = [t for t in pb_opened if is_risk(t, kinds)]
        pb_post = [t for t in pb_risk if t.day >= warm_end]
        pb_healthy = [t for t in pb_post if t.account_id in healthy_set]
        pb_days: dict[str, list[date]] = defaultdict(list)
        for t in pb_risk:
            pb_days[t.account_id].append(t.day)
        pb_recall = recall(30, pb_days) if pb_risk else None
        dismissed = sum(dismissed_by_pb[pb].values())
        playbooks[pb] = {
            "risk": bool(pb_risk) or (pb in RISK_KINDS),
            "opened": len(pb_opened),
            "risk_opened": len(pb_risk),
            "risk_post_warmup": len(pb_post),
            "on_healthy": len(pb_healthy),
            "noise": (
                len(pb_healthy) / len(acc.healthy) / quarters
                if pb_risk and acc.healthy and quarters
                else None
            ),
            "healthy_share": _ratio(len(pb_healthy), len(pb_post)),
            "precision": _ratio(sum(right(t) for t in pb_post), len(pb_post)),
            "churners_caught_30": pb_recall["caught"] if pb_recall else None,
            "after_churn": sum(1 for t in after if t.playbook == pb),
            "dismissed": dismissed,
            "dismissed_share": _ratio(dismissed, len(pb_opened)),
            "dismissed_reasons": dict(sorted(dismissed_by_pb[pb].items())),
        }

    lead_value = float(lead_median) if lead_median is not None else None
    return {
        "book": {
            "start": book.start.isoformat(),
            "end": book.end.isoformat(),
            "first_day": first.isoformat(),
            "last_day": last.isoformat(),
            "warmup_end": warm_end.isoformat(),
            "days": (last - first).days + 1,
            "post_warmup_days": post_days,
            "quarters": quarters,
            "full_weeks": len(weeks),
            "accounts": len(book.accounts),
            "healthy": len(acc.healthy),
            "churned": len(acc.churn),
            "expanded": len(acc.expand),
            "dipped": len(acc.dips),
            "downgraded": len(acc.downgraded),
        },
        "tasks": {
            "opened": len(opened),
            "risk": len(risk),
            "risk_warmup": len(risk) - len(risk_post),
            "risk_post_warmup": len(risk_post),
            "risk_warmup_on_healthy": sum(
                1 for t in risk if t.day < warm_end and t.account_id in healthy_set
            ),
        },
        "metrics": {
            "churn_recall_30": {
                "value": recall_30["value"],
                "caught": recall_30["caught"],
                "churners": recall_30["churners"],
                **_target("churn_recall_30", recall_30["value"]),
            },
            "churn_recall_60": {
                "value": recall_60["value"],
                "caught": recall_60["caught"],
                "churners": recall_60["churners"],
            },
            "chance_30": {
                "value": recall_30["chance"],
                **_target("chance_30", recall_30["chance"]),
            },
            "chance_60": {"value": recall_60["chance"]},
            "lift_30": {"value": recall_30["lift"]},
            "lift_60": {"value": recall_60["lift"]},
            "lead_time_days": {
                "value": lead_value,
                "churners_with_lead": len(leads),
                "churners_without": recall_30["churners"] - len(leads),
                **_target("lead_time", lead_value),
            },
            "noise": {
                "value": noise,
                "tasks": len(healthy_post),
                "healthy_accounts": len(acc.healthy),
                "share_with_any": noise_share,
                **_target("noise", noise),
            },
            "storm": {
                "value": storm,
                "worst_week": worst.isoformat() if worst is not None else None,
                "worst_week_tasks": per_week.get(worst, 0) if worst is not None else None,
                "mean_week_tasks": mean_week,
                "worst_week_right": worst_right if worst is not None else None,
                "worst_week_on_healthy": worst_healthy if worst is not None else None,
                "by_chance": storm_by_chance,
                **_target("storm", storm),
            },
            "precision": {
                "value": precision,
                "hits": len(hits),
                "tasks": len(risk_post),
                **_target("precision", precision),
            },
            "expansion_recall": {
                "value": exp_recall,
                "caught": len(exp_caught),
                "expanders": len(exp_counted),
                **_target("expansion_recall", exp_recall),
            },
            "false_expansion": {
                "value": false_rate,
                "tasks": len(false_exp),
                "accounts": len(acc.never_expanded),
                **_target("false_expansion", false_rate),
            },
            "csm_load": csm_load,
            "after_churn": {"tasks": len(after), "risk_tasks": len(after_risk)},
        },
        "dismissed": {
            "tasks": len(dismissals),
            "share": _ratio(len(dismissals), len(opened)),
            "by_reason": {
                reason: {"tasks": n, "share": _ratio(n, len(opened))}
                for reason, n in sorted(by_reason.items())
            },
        },
        "playbooks": playbooks,
        "weekly": _weekly(risk, first, last),
    }


def _weekly(risk: list[ScoredTask], first: date, last: date) -> list[dict[str, Any]]:
    """Risk tasks per calendar week (every week the book touches) and playbook: the chart."""
    per: dict[date, Counter[str]] = defaultdict(Counter)
    for t in risk:
        per[_monday(t.day)][t.playbook] += 1
    out = []
    monday = _monday(first)
    while monday <= last:
        counts = per.get(monday, Counter())
        out.append(
            {
                "week": monday.isoformat(),
                "full": monday >= first and monday + timedelta(days=6) <= last,
                "total": sum(counts.values()),
                "by_playbook": dict(sorted(counts.items())),
            }
        )
        monday += timedelta(days=7)
    return out
