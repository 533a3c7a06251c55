"""The engagement part of the account state: plain data and its compact dict (what is kept,
and why: engagement.py, which folds into it and reads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Engagement:
    first_at: float | None = None  # first activity event: activity data from then on
    last_out: dict[str, float] = field(default_factory=dict)  # touch kind -> last outbound
    last_in: float | None = None  # the customer's last inbound activity
    # Outreach awaiting a reply, oldest first: [sent_at, activity_id, kind, contact_id].
    outreach: list[list[Any]] = field(default_factory=list)
    replies: list[list[float]] = field(default_factory=list)  # [replied_at, latency s], sorted
    qbrs: list[float] = field(default_factory=list)  # QBRs held, sorted
    qbr_booked: list[float] | None = None  # [booked for, booked at] of the latest booking
    # plan_id \x1f milestone_id -> [updated_at, status, due day, phase, title, owner, plan_id,
    # milestone_id]
    milestones: dict[str, list[Any]] = field(default_factory=dict)
    first_use: dict[str, float] = field(default_factory=dict)  # first-value feature -> time
    # Transient (not serialised): (plan, first value time, features used) of `first_use` as
    # it is; note_first_use drops it.
    value_cache: tuple[Any, float | None, list[str]] | None = field(
        default=None, compare=False, repr=False
    )

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for key, value in (
            ("fa", self.first_at),
            ("lo", self.last_out),
            ("li", self.last_in),
            ("or", self.outreach),
            ("rp", self.replies),
            ("qb", self.qbrs),
            ("bk", self.qbr_booked),
            ("ms", self.milestones),
            ("fu", self.first_use),
        ):
            if value:
                d[key] = value
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Engagement:
        d = d or {}
        return cls(
            first_at=d.get("fa"),
            last_out=dict(d.get("lo") or {}),
            last_in=d.get("li"),
            outreach=[list(e) for e in d.get("or", ())],
            replies=[list(e) for e in d.get("rp", ())],
            qbrs=list(d.get("qb", ())),
            qbr_booked=list(d["bk"]) if d.get("bk") else None,
            milestones={k: list(v) for k, v in (d.get("ms") or {}).items()},
            first_use=dict(d.get("fu") or {}),
        )
