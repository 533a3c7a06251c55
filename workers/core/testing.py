"""An in-memory driver for the pure core: build events tersely, apply them to one account and
collect what was published. Used by the unit tests and handy for back-tests in a REPL."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from typing import Any

from config.rules import Rules, build_rules, load_rules
from events.models import (
    AccountEvent,
    ActivityEvent,
    AnyInbound,
    HealthScore,
    MilestoneEvent,
    NpsEvent,
    PlaybookTask,
    TaskFeedback,
    TicketEvent,
    UsageEvent,
)

from .engine import Outcome, advance_to, apply_event, new_state
from .state import AccountState

T0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday, midnight UTC

_DEFAULT_RULES: Rules | None = None


def default_rules() -> Rules:
    global _DEFAULT_RULES
    if _DEFAULT_RULES is None:
        _DEFAULT_RULES = load_rules()
    return _DEFAULT_RULES


def rules_with(**changes: Any) -> Rules:
    """The bundled rules with top-level sections deep-merged from `changes`."""
    base = default_rules().model_dump(mode="python")
    for key, value in changes.items():
        base[key] = _merge(base.get(key), value)
    return build_rules(base, "<test rules>")


def unguarded_rules() -> Rules:
    """The bundled rules with the alert-quality guards switched off: the owner's thresholds
    alone (usage_drop: 30% week over week from at least 5 users; expansion at 90% of any seat
    count; every detractor; a champion silent after 10 days; health_at_risk on entering the
    band; no book baseline), for tests of those edges."""
    return rules_with(
        playbooks={
            "usage_drop": {
                "params": {
                    "min_prev_active_users": 5,
                    "significance_z": 0,
                    "confirm_days": 1,
                    "decline_weeks": 0,
                    "long_decline_weeks": 0,
                }
            },
            "expansion_signal": {"params": {"min_seats": 0, "confirm_weeks": 1}},
            "nps_detractor": {"params": {"mild_above_score": 6}},
            "champion_silent": {"params": {"max_inactive_days": 10, "rhythm_factor": 0}},
            "health_at_risk": {"params": {"confirm_days": 0}},
        },
        book_baseline={"enabled": False},
    )


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for k, v in override.items():
            out[k] = _merge(base.get(k), v)
        return out
    return copy.deepcopy(override)


def at(days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


class Sim:
    """One account fed event by event; everything published lands in `tasks` / `health`."""

    def __init__(self, rules: Rules | None = None, account_id: str = "acc-1") -> None:
        self.rules = rules or default_rules()
        self.account_id = account_id
        self.state: AccountState = new_state(account_id)
        self.tasks: list[PlaybookTask] = []
        self.health: list[HealthScore] = []
        self._n = 0

    def _id(self, prefix: str) -> str:
        self._n += 1
        return f"{self.account_id}-{prefix}-{self._n}"

    def _collect(self, out: Outcome) -> Outcome:
        self.tasks.extend(out.tasks)
        self.health.extend(out.health)
        return out

    def apply(self, event: AnyInbound) -> Outcome:
        return self._collect(apply_event(self.state, event, self.rules))

    def account(self, when: datetime, event_id: str | None = None, **facts: Any) -> Outcome:
        return self.apply(
            AccountEvent(
                event_id=event_id or self._id("acct"),
                account_id=self.account_id,
                occurred_at=when,
                **facts,
            )
        )

    def usage(
        self,
        when: datetime,
        user: str,
        feature: str = "dashboards",
        quantity: int = 1,
        event_id: str | None = None,
    ) -> Outcome:
        return self.apply(
            UsageEvent(
                event_id=event_id or self._id("use"),
                account_id=self.account_id,
                occurred_at=when,
                user_id=user,
                feature=feature,
                quantity=quantity,
            )
        )

    def ticket(
        self,
        when: datetime,
        ticket_id: str,
        status: str,
        priority: str = "normal",
        event_id: str | None = None,
    ) -> Outcome:
        return self.apply(
            TicketEvent(
                event_id=event_id or self._id("tkt"),
                account_id=self.account_id,
                occurred_at=when,
                ticket_id=ticket_id,
                status=status,  # type: ignore[arg-type]
                priority=priority,  # type: ignore[arg-type]
            )
        )

    def nps(self, when: datetime, score: int, event_id: str | None = None) -> Outcome:
        return self.apply(
            NpsEvent(
                event_id=event_id or self._id("nps"),
                account_id=self.account_id,
                occurred_at=when,
                score=score,
            )
        )

    def feedback(
        self,
        when: datetime,
        task: PlaybookTask,
        action: str,
        *,
        until: datetime | None = None,
        reason: str | None = None,
        event_id: str | None = None,
    ) -> Outcome:
        return self.apply(
            TaskFeedback(
                event_id=event_id or self._id("fb"),
                account_id=self.account_id,
                occurred_at=when,
                task_id=task.task_id,
                playbook=task.playbook,
                action=action,  # type: ignore[arg-type]
                until=until,
                reason=reason,  # type: ignore[arg-type]
                by="ana",
                source="board",
            )
        )

    def activity(
        self,
        when: datetime,
        kind: str = "email",
        direction: str = "outbound",
        *,
        activity_id: str | None = None,
        in_reply_to: str | None = None,
        contact_id: str | None = None,
        scheduled_for: datetime | None = None,
        csm_id: str = "csm-ana",
        event_id: str | None = None,
    ) -> Outcome:
        """A CSM touchpoint (`outbound`) or the customer's (`inbound`); `activity_id` defaults
        to the event id."""
        event_id = event_id or self._id("act")
        return self.apply(
            ActivityEvent(
                event_id=event_id,
                account_id=self.account_id,
                occurred_at=when,
                activity_id=activity_id or event_id,
                kind=kind,  # type: ignore[arg-type]  (the contract's name for activity_kind)
                direction=direction,  # type: ignore[arg-type]
                csm_id=csm_id,
                contact_id=contact_id,
                in_reply_to=in_reply_to,
                scheduled_for=scheduled_for,
            )
        )

    def reply(self, when: datetime, to: str | None = None, kind: str = "email") -> Outcome:
        """The customer's inbound reply, `in_reply_to` the outreach `to` when given."""
        return self.activity(when, kind, "inbound", in_reply_to=to)

    def milestone(
        self,
        when: datetime,
        milestone_id: str,
        due: date | datetime,
        status: str = "planned",
        *,
        phase: str = "onboard",
        plan_id: str = "plan-1",
        title: str | None = None,
        owner: str | None = None,
        event_id: str | None = None,
    ) -> Outcome:
        return self.apply(
            MilestoneEvent(
                event_id=event_id or self._id("ms"),
                account_id=self.account_id,
                occurred_at=when,
                plan_id=plan_id,
                milestone_id=milestone_id,
                title=title or milestone_id.replace("-", " ").capitalize(),
                phase=phase,
                owner=owner,
                due_date=due.date() if isinstance(due, datetime) else due,
                status=status,  # type: ignore[arg-type]
            )
        )

    def advance(self, when: datetime) -> Outcome:
        return self._collect(advance_to(self.state, when, self.rules))

    def daily_usage(
        self,
        first_day: float,
        days: int,
        users: int | list[str],
        features: tuple[str, ...] = ("dashboards",),
        hour: float = 10,
    ) -> None:
        """Every listed user uses every feature once a day at `hour` for `days` days."""
        names = [f"user-{i}" for i in range(users)] if isinstance(users, int) else users
        for d in range(days):
            for name in names:
                for feature in features:
                    self.usage(at(first_day + d, hour), name, feature)

    # --- inspection ---------------------------------------------------------------------
    def of(self, playbook: str) -> list[PlaybookTask]:
        return [t for t in self.tasks if t.playbook == playbook]

    def actions(self, playbook: str) -> list[str]:
        return [t.action for t in self.of(playbook)]
