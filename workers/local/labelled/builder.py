"""Collects raw events while the stories are told; ids and timestamps are assigned once
everything is sorted (generate.py). It also enforces the two facts of life every story shares:
a new customer sends nothing before it signs, and a churned customer goes silent."""

from __future__ import annotations

import random
from typing import Any

from workers.local.labelled.plan import Account

DAY = 86_400
_TYPE_RANK = {"account": 0, "ticket": 1, "nps": 2, "usage": 3}

RawEvent = tuple[int, int, int, int, str, dict[str, Any]]


class Builder:
    """Raw events as (second, type rank, account index, sequence, type, fields)."""

    def __init__(self, n_days: int) -> None:
        self.n_days = n_days
        self.end_sec = n_days * DAY
        self.raw: list[RawEvent] = []
        self.seq = 0

    def add(
        self, sec: int, kind: str, acc: Account, fields: dict[str, Any], *, force: bool = False
    ) -> None:
        """Record one event unless it lies outside the book or the customer's lifetime.

        `force` lets a churned customer's last trickle (a data export) through."""
        if sec < 0 or sec >= self.end_sec:
            return
        if kind != "account" and sec < acc.first_day * DAY:
            return
        if (
            not force
            and acc.churn_day is not None
            and sec >= (acc.churn_day + 1) * DAY
            and not _from_our_side(kind, fields)
        ):
            return
        self.seq += 1
        self.raw.append((sec, _TYPE_RANK[kind], acc.index, self.seq, kind, fields))


def _from_our_side(kind: str, fields: dict[str, Any]) -> bool:
    """Account facts, and support closing a churned customer's tickets."""
    if kind == "ticket":
        return fields.get("status") in ("resolved", "closed")
    return kind == "account"


def work_sec(rng: random.Random, day: int, tz: int) -> int:
    """A second within the account's local working hours (08:00-18:00) on `day`, in UTC."""
    return day * DAY + (8 - tz) * 3600 + rng.randrange(10 * 3600)
