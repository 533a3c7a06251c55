"""Per-account state: plain data, serialised to compact JSON by `to_dict`.

Times are epoch seconds (float) and days are epoch-day integers: cheaper to compare on the hot
path than datetimes and trivially JSON-serialisable. Everything is bounded: day buckets,
per-user activity, NPS history, escalations and remembered event ids are pruned as event time
moves on (see fold.prune).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DAY = 86400


def to_ts(value: datetime) -> float:
    return value.timestamp()


def to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class DayBucket:
    """Usage of one event-time UTC day."""

    __slots__ = ("users", "features", "volume", "n_users")

    def __init__(
        self,
        users: set[str] | None = None,
        features: set[str] | None = None,
        volume: int = 0,
        n_users: int = 0,
    ) -> None:
        self.users: set[str] = users if users is not None else set()
        self.features: set[str] = features if features is not None else set()
        self.volume = volume
        # Distinct users once the user ids themselves were pruned (older than any user window).
        self.n_users = n_users

    def to_list(self) -> list[Any]:
        return [sorted(self.users), sorted(self.features), self.volume, self.n_users]

    @classmethod
    def from_list(cls, data: list[Any]) -> DayBucket:
        return cls(set(data[0]), set(data[1]), int(data[2]), int(data[3]))


@dataclass
class Ticket:
    priority: str
    status: str
    opened_at: float
    updated_at: float
    escalated: bool = False

    def to_list(self) -> list[Any]:
        return [self.priority, self.status, self.opened_at, self.updated_at, self.escalated]

    @classmethod
    def from_list(cls, data: list[Any]) -> Ticket:
        return cls(data[0], data[1], data[2], data[3], bool(data[4]))


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
    # a repeat of the same thing never produces another update.
    keys: list[str] = field(default_factory=list)
    escalated: bool = False
    # Since when the resolve condition has held continuously (health recovery over weeks).
    ok_since: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "ep": self.episode,
            "open": self.open,
            "pr": self.priority,
            "opr": self.opened_priority,
            "oat": self.opened_at,
            "due": self.due_at,
            "rat": self.resolved_at,
            "ev": self.evidence,
            "keys": self.keys,
            "esc": self.escalated,
            "ok": self.ok_since,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TaskState:
        return cls(
            episode=d["ep"],
            open=d["open"],
            priority=d["pr"],
            opened_priority=d["opr"],
            opened_at=d["oat"],
            due_at=d["due"],
            resolved_at=d["rat"],
            evidence=d["ev"],
            keys=list(d["keys"]),
            escalated=d["esc"],
            ok_since=d["ok"],
        )


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
    days: dict[int, DayBucket] = field(default_factory=dict)
    user_last_active: dict[str, float] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)
    closed_tickets: dict[str, float] = field(default_factory=dict)  # tombstones
    escalations: list[list[Any]] = field(default_factory=list)  # [time, ticket_id], sorted
    nps: list[list[Any]] = field(default_factory=list)  # [time, score, event_id], sorted
    seen_ids: dict[str, None] = field(default_factory=dict)  # insertion-ordered set
    health: dict[str, Any] | None = None  # last computed {"score", "band"}
    published: dict[str, Any] | None = None  # last published {"score", "band"}
    # The score before the account entered at_risk from above (healthy/champion); None when
    # it is not at risk or came up from critical. health_at_risk fires only "from above".
    at_risk_from: float | None = None
    renewal_for: str | None = None  # renewal date the milestones below belong to
    renewal_milestones: list[int] = field(default_factory=list)
    tasks: dict[str, TaskState] = field(default_factory=dict)
    pruned_day: int | None = None
    # Transient (not serialised): usage aggregates of completed days, rebuilt on demand.
    usage_cache: tuple[Any, ...] | None = field(default=None, compare=False, repr=False)
    # Transient (not serialised): (until, rules, epoch day) after a boundary evaluation that
    # changed nothing; boundaries before `until` would evaluate identically (see
    # engine._quiet_until).
    quiet: tuple[float, Any, int] | None = field(default=None, compare=False, repr=False)

    @property
    def segment(self) -> str | None:
        return self.facts.get("segment")

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "id": self.account_id,
            "facts": self.facts,
            "chs": self.champion_since,
            "chla": self.champion_last_active,
            "fs": self.first_seen,
            "clk": self.clock,
            "lb": self.last_boundary,
            "le": self.last_eval,
            "days": {str(d): b.to_list() for d, b in sorted(self.days.items())},
            "ula": self.user_last_active,
            "tk": {k: t.to_list() for k, t in self.tickets.items()},
            "ctk": self.closed_tickets,
            "esc": self.escalations,
            "nps": self.nps,
            "seen": list(self.seen_ids),
            "h": self.health,
            "pub": self.published,
            "arf": self.at_risk_from,
            "rnf": self.renewal_for,
            "rnm": self.renewal_milestones,
            "tasks": {k: t.to_dict() for k, t in self.tasks.items()},
            "pd": self.pruned_day,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AccountState:
        return cls(
            account_id=d["id"],
            facts=dict(d["facts"]),
            champion_since=d["chs"],
            champion_last_active=d["chla"],
            first_seen=d["fs"],
            clock=d["clk"],
            last_boundary=d["lb"],
            last_eval=d["le"],
            days={int(k): DayBucket.from_list(v) for k, v in d["days"].items()},
            user_last_active=dict(d["ula"]),
            tickets={k: Ticket.from_list(v) for k, v in d["tk"].items()},
            closed_tickets=dict(d["ctk"]),
            escalations=[list(x) for x in d["esc"]],
            nps=[list(x) for x in d["nps"]],
            seen_ids=dict.fromkeys(d["seen"]),
            health=d["h"],
            published=d["pub"],
            at_risk_from=d["arf"],
            renewal_for=d["rnf"],
            renewal_milestones=list(d["rnm"]),
            tasks={k: TaskState.from_dict(v) for k, v in d["tasks"].items()},
            pruned_day=d["pd"],
        )
