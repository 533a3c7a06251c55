"""Putting the alt book together: account facts, usage, tickets, NPS, outcomes; the files."""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from altbook.activity import Event, Roster, build_roster, usage_events
from altbook.days import DEFAULT_START, Calendar, stamp
from altbook.plan import Account, outcomes, plan_accounts
from altbook.support import nps_events, ticket_events


@dataclass
class Book:
    calendar: Calendar
    accounts: list[Account]
    events: list[Event]
    outcomes: list[dict[str, str]]
    overlays: Counter[str] = field(default_factory=Counter)


def generate(
    seed: int = 7, accounts: int = 400, weeks: int = 30, start: date = DEFAULT_START
) -> Book:
    cal = Calendar(start, weeks)
    if cal.end > date.today():
        raise ValueError(f"the book would end {cal.end} (after today); use an earlier --start")
    plan = plan_accounts(seed, accounts, cal)
    events: list[Event] = []
    rows: list[dict[str, str]] = []
    overlays: Counter[str] = Counter()
    for acc in plan:
        rng = random.Random(f"alt-book:{seed}:{acc.account_id}:events")
        roster = build_roster(acc, cal, rng)
        events.extend(account_events(acc, roster, cal))
        events.extend(usage_events(acc, roster, cal, rng))
        events.extend(ticket_events(acc, cal, rng))
        events.extend(nps_events(acc, roster, cal, rng))
        rows.extend(outcomes(acc, cal))
        overlays[f"rhythm {acc.rhythm}"] += 1
        overlays[f"champion {acc.champion_style}"] += 1
        overlays[f"segment {acc.segment}"] += 1
        overlays["seasonal slump"] += acc.seasonal is not None
        overlays["onboarding in the book"] += acc.onboarding
        overlays["champion change (healthy)"] += acc.champion_change is not None
        overlays["enterprise with >= 300 seats"] += acc.segment == "enterprise" and acc.seats >= 300
        overlays["seats <= 20"] += acc.seats <= 20
        overlays["users on rosters"] += len(roster.users)
        overlays["part-time users"] += sum(u.weekdays is not None for u in roster.users)
    # Event time order (ties keep the account order): a produce file a replay can stream.
    events.sort(key=lambda e: str(e["occurred_at"]))
    rows.sort(key=lambda r: (r["date"], r["account_id"]))
    return Book(cal, plan, events, rows, overlays)


def account_events(acc: Account, roster: Roster, cal: Calendar) -> list[Event]:
    aid = acc.account_id
    out: list[Event] = []

    def fact(day: int, **fields: object) -> None:
        out.append(
            {
                "type": "account",
                "event_id": f"{aid}.a{len(out) + 1}",
                "account_id": aid,
                "occurred_at": stamp(cal.day(day), 60 * (1 + acc.index % 50)),
            }
            | fields
        )

    fact(
        max(0, acc.start_day),
        name=acc.name,
        segment=acc.segment,
        licensed_seats=acc.seats,
        arr=acc.arr,
        csm_id=acc.csm_id,
        champion_user_id=roster.champion.user_id,
        contract_start=acc.contract_start.isoformat(),
        renewal_date=acc.renewal_date.isoformat(),
        status="active",
    )
    if acc.champion_change is not None and roster.new_champion is not None:
        fact(acc.champion_change, champion_user_id=roster.new_champion.user_id)
    next_renewal = (acc.renewal_date + timedelta(days=365)).isoformat()
    price = acc.arr / max(1, acc.seats)
    if acc.shape == "expander" and acc.change_day is not None and acc.new_seats:
        fact(acc.change_day, licensed_seats=acc.new_seats, arr=round(price * acc.new_seats, -2))
    renewal = cal.index(acc.renewal_date)
    if acc.churn_day is not None:
        out.append(
            {
                "type": "account",
                "event_id": f"{aid}.a{len(out) + 1}",
                "account_id": aid,
                "occurred_at": stamp(cal.day(acc.churn_day), 17 * 3600),
                "status": "churned",
            }
        )
    elif acc.shape == "downgrader" and acc.change_day is not None and acc.new_seats:
        fact(
            acc.change_day,
            licensed_seats=acc.new_seats,
            arr=round(price * acc.new_seats, -2),
            renewal_date=next_renewal,
        )
    elif 0 < renewal < cal.days:
        fact(renewal, renewal_date=next_renewal)
    return out


def write_events(book: Book, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for event in book.events:
            handle.write(json.dumps(event, separators=(",", ":")))
            handle.write("\n")
    return path.stat().st_size


def write_outcomes(book: Book, path: Path, *, as_csv: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        if as_csv:
            writer = csv.DictWriter(handle, fieldnames=["account_id", "outcome", "date", "until"])
            writer.writeheader()
            writer.writerows(book.outcomes)
        else:
            for row in book.outcomes:
                handle.write(json.dumps(row, separators=(",", ":")) + "\n")
