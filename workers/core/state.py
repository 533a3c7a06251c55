"""Per-account state: plain data. `codec.py` turns it into bytes and back.

Times are epoch seconds (float) and days are epoch-day integers (see days.py). Everything in
the account value is bounded whatever the account's size: usage is kept as daily aggregates
(usage.py), per-user facts live in the transient `users` store (users.py, written by the shell
under their own keys), event ids are 8-byte digests bounded by event time and count
(dedup.py), and NPS responses, task keys and closed-ticket tombstones are capped. `fold.prune`
drops what no window needs as event time moves on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .book import BookActivity
from .days import DAY, HOUR, to_dt, to_ts
from .dedup import SeenIds
from .engagement_state import Engagement
from .usage import UsageAggregates
from .users import DictUserStore, UserStore

__all__ = [
    "DAY",
    "HOUR",
    "AccountState",
    "TaskState",
    "Ticket",
    "to_dt",
    "to_ts",
]


@dataclass
class Ticket:
    priority: str
    status: str
    opened_at: float
    updated_at: float
    escalated: bool = False


@dataclass
class TaskState:
    """The lifecycle of one playbook for one account (across its episodes)."""

    episode: int = 0
    open: bool = False
    priority: str | None = None
    opened_priority: str | None = None
    opened_at: float | None = None
    due_at: float | None = None
    resolved_at: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    # Occurrences already reported on this task (ticket ids, NPS event ids, milestones), so
    # a repeat of the same thing never produces another update. Capped (lifecycle.MAX_KEYS).
    keys: list[str] = field(default_factory=list)
    escalated: bool = False
    # Since when the resolve condition has held continuously (health recovery over weeks).
    ok_since: float | None = None
    # Feedback from people (task-feedback): updates are held while snoozed; when the task was
    # acknowledged; how it was closed by a person ({"action", "by", "source", "reason"}).
    snoozed_until: float | None = None
    acknowledged_at: float | None = None
    closed_by: dict[str, Any] | None = None


@dataclass
class AccountState:
    account_id: str
    # Account facts as JSON-friendly values (dates as ISO strings).
    facts: dict[str, Any] = field(default_factory=dict)
    champion_since: float | None = None
    champion_last_active: float | None = None
    first_seen: float | None = None
    clock: float | None = None  # latest event time seen
    last_boundary: float | None = None  # latest evaluation boundary evaluated
    last_eval: float | None = None  # latest evaluation time (boundary or event)
    usage: UsageAggregates = field(default_factory=UsageAggregates)
    # User records older than this (last active before it) are treated as unknown when a new
    # champion is named, as the pruned per-user times of version 1 were.
    users_since: float | None = None
    tickets: dict[str, Ticket] = field(default_factory=dict)
    closed_tickets: dict[str, float] = field(default_factory=dict)  # tombstones
    escalations: list[list[Any]] = field(default_factory=list)  # [time, ticket_id], sorted
    nps: list[list[Any]] = field(default_factory=list)  # [time, score, event_id], sorted
    seen: SeenIds = field(default_factory=SeenIds)
    health: dict[str, Any] | None = None  # last computed {"score", "band"}
    published: dict[str, Any] | None = None  # last published {"score", "band"}
    # The score before the account entered at_risk from above (healthy/champion); None when
    # it is not at risk or came up from critical. health_at_risk fires only "from above".
    at_risk_from: float | None = None
    # When it entered at_risk from above (health_at_risk's confirm_days count from it).
    at_risk_since: float | None = None
    renewal_for: str | None = None  # renewal date the milestones below belong to
    renewal_milestones: list[int] = field(default_factory=list)
    tasks: dict[str, TaskState] = field(default_factory=dict)
    pruned_day: int | None = None
    # CSM touchpoints, success-plan milestones, first value (engagement.py); bounded.
    engagement: Engagement = field(default_factory=Engagement)
    # Transient (not serialised): the account's per-user records. The shell plugs in its
    # keyed store; a new or decoded state starts with an empty in-memory one.
    users: UserStore = field(default_factory=DictUserStore, compare=False, repr=False)
    # Transient (not serialised): usage metrics of completed days, rebuilt on demand.
    usage_cache: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)
    # Transient (not serialised): the partition's book baseline (book.py), plugged in by the
    # shell or the backtest; None judges the account alone.
    book: BookActivity | None = field(default=None, compare=False, repr=False)
    # Transient: the usage guards' verdict for the usage_cache it was computed on (guards.py).
    guard_cache: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)
    # Transient (not serialised): (until, rules, epoch day) after a boundary evaluation that
    # changed nothing; boundaries before `until` would evaluate identically (see
    # engine._quiet_until).
    quiet: tuple[float, Any, int] | None = field(default=None, compare=False, repr=False)

    @property
    def segment(self) -> str | None:
        return self.facts.get("segment")
