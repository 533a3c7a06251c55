"""The sample's working records: an account with its story's parameters, the builder that
collects raw events, and the working-hours clock of an account."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

_TYPE_RANK = {"account": 0, "ticket": 1, "nps": 2, "usage": 3, "milestone": 4, "activity": 5}
_DAY = 86_400


@dataclass
class _Account:
    index: int
    account_id: str
    archetype: str
    segment: str
    seats: int
    arr: float
    csm_id: str
    tz: int
    users: list[str]
    week_p: list[tuple[float, ...]]  # per user: activity probability for each weekday
    # Per user: half-open [from_day, to_day) intervals in which the user does nothing.
    off: list[list[tuple[int, int]]]
    contract_start: date
    renewal_date: date
    name: str = ""
    champion: int = 0  # index into users
    low_adoption: bool = False
    stop_day: int | None = None  # usage_stops: nothing at all from this day on
    first_day: int = 0  # troubled_onboarding: the customer (and all its events) starts this day
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def champion_id(self) -> str:
        return self.users[self.champion]


class _Builder:
    """Collects raw events; ids and timestamps are assigned once everything is sorted."""

    def __init__(self, start: date, n_days: int) -> None:
        self.start = start
        self.n_days = n_days
        self.end_sec = n_days * _DAY
        self.raw: list[tuple[int, int, int, int, str, dict[str, Any]]] = []
        self.seq = 0

    def add(self, sec: int, kind: str, account: _Account, fields: dict[str, Any]) -> None:
        # Events past the end of the sample (a ticket closing next month) simply have not
        # happened yet; an account that stopped sends nothing any more (its CSM still writes).
        if sec < 0 or sec >= self.end_sec:
            return
        if (
            account.stop_day is not None
            and sec >= account.stop_day * _DAY
            and not _from_our_side(kind, fields)
        ):
            return
        if kind != "account" and sec < account.first_day * _DAY:
            return  # not a customer yet
        self.seq += 1
        self.raw.append((sec, _TYPE_RANK[kind], account.index, self.seq, kind, fields))


def _from_our_side(kind: str, fields: dict[str, Any]) -> bool:
    """Facts, success plans and the CSM's own touchpoints (not the customer's)."""
    if kind == "activity":
        return fields.get("direction") == "outbound"
    return kind in ("account", "milestone")


def _work_hour_sec(rng: random.Random, day: int, tz: int) -> int:
    # Local working hours 08:00-18:00 shifted to UTC.
    return day * _DAY + (8 - tz) * 3600 + rng.randrange(10 * 3600)


def _is_off(acc: _Account, user: int, day: int) -> bool:
    return any(a <= day < b for a, b in acc.off[user])
