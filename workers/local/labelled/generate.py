"""`generate_labelled_book()`: the whole labelled book (events sorted by `occurred_at`, unique
event ids) and its outcomes, deterministic by seed."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from workers.local.labelled.builder import Builder
from workers.local.labelled.catalogue import DEFAULT_START, Calendar
from workers.local.labelled.facts import Outcome, account_facts
from workers.local.labelled.plan import Account, plan_book
from workers.local.labelled.support import nps, tickets
from workers.local.labelled.usage import usage

_ID_TAG = {"account": "a", "ticket": "t", "nps": "n", "usage": "u"}


@dataclass
class LabelledBook:
    """The events (the `produce` file format), the outcomes rows, and the accounts' plans."""

    events: list[dict[str, Any]]
    outcomes: list[Outcome]
    accounts: list[Account]
    calendar: Calendar
    # Per account id: distinct active users per book day (what the usage events contain).
    active_users: dict[str, list[int]] = field(default_factory=dict)


def generate_labelled_book(
    accounts: int = 300, weeks: int = 26, seed: int = 7, start: date = DEFAULT_START
) -> LabelledBook:
    """Same arguments, same book, on any machine: nothing here reads a clock.

    Each account tells its story from a generator of its own (seeded by the book's seed and
    its id), so one story's randomness never shifts another's.
    """
    if accounts < 1 or weeks < 4:
        raise ValueError("a labelled book needs at least 1 account and 4 weeks")
    cal = Calendar.for_book(start, weeks)
    book = plan_book(random.Random(seed), accounts, cal)
    b = Builder(cal.n_days)
    outcomes: list[Outcome] = []
    active: dict[str, list[int]] = {}
    for acc in book:
        rng = random.Random(f"{seed}:{acc.account_id}")
        outcomes += account_facts(rng, b, acc, cal, accounts)
        tickets(rng, b, acc, cal)
        nps(rng, b, acc, cal)
        active[acc.account_id] = usage(rng, b, acc, cal)
    outcomes.sort(key=lambda r: (r["date"], r["account_id"], r["outcome"]))
    return LabelledBook(_finish(b, book, start), outcomes, book, cal, active)


def _finish(b: Builder, book: list[Account], start: date) -> list[dict[str, Any]]:
    """Sort by time (ties: facts first, then account, then generation order), stamp RFC 3339
    UTC times, number events and tickets per account in time order."""
    b.raw.sort(key=lambda r: r[:4])
    base = datetime(start.year, start.month, start.day, tzinfo=UTC)
    counters: Counter[tuple[int, str]] = Counter()
    ticket_numbers: dict[str, str] = {}
    stamps: dict[int, str] = {}
    events: list[dict[str, Any]] = []
    for sec, _, index, _, kind, fields in b.raw:
        acc = book[index]
        counters[(index, kind)] += 1
        if kind == "ticket":
            draft = fields["ticket_id"]
            if draft not in ticket_numbers:
                counters[(index, "ticket_id")] += 1
                ticket_numbers[draft] = f"{acc.account_id}-ticket-{counters[(index, 'ticket_id')]}"
            fields = {**fields, "ticket_id": ticket_numbers[draft]}
        stamp = stamps.get(sec)
        if stamp is None:
            stamp = stamps[sec] = (base + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")
        events.append(
            {
                "type": kind,
                "event_id": f"{acc.account_id}-{_ID_TAG[kind]}-{counters[(index, kind)]}",
                "account_id": acc.account_id,
                "occurred_at": stamp,
                **fields,
            }
        )
    return events
