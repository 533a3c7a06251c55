"""The labelled book as files (events and outcomes, JSON lines) and in figures (the summary the
command prints)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import IO, Any

from workers.local.labelled.catalogue import ARCHETYPES
from workers.local.labelled.generate import LabelledBook


def write_lines(handle: IO[str], rows: list[dict[str, Any]]) -> None:
    """One compact JSON object a line."""
    for row in rows:
        handle.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False))
        handle.write("\n")


def write_book(book: LabelledBook, events: str | Path, outcomes: str | Path) -> None:
    """Write the events file (for `produce`, `backtest`, `evaluate`) and the outcomes file."""
    with open(events, "w", encoding="utf-8", newline="\n") as fh:
        write_lines(fh, book.events)
    with open(outcomes, "w", encoding="utf-8", newline="\n") as fh:
        write_lines(fh, book.outcomes)


def describe_book(book: LabelledBook) -> dict[str, Any]:
    """Counts per archetype, outcomes per kind, events per type: what the command reports."""
    archetypes = Counter(acc.archetype for acc in book.accounts)
    by_type = Counter(e["type"] for e in book.events)
    cal = book.calendar
    return {
        "accounts": len(book.accounts),
        "weeks": cal.n_days // 7,
        "first_day": cal.start.isoformat(),
        "holiday_week": f"{cal.date(cal.holiday.start)}..{cal.date(cal.holiday.stop - 1)}"
        if cal.holiday
        else None,
        "by_archetype": {a: archetypes[a] for a in ARCHETYPES if archetypes[a]},
        "by_segment": dict(sorted(Counter(acc.segment for acc in book.accounts).items())),
        "small_accounts": sum(1 for acc in book.accounts if len(acc.users) <= 20),
        "seasonal_accounts": sum(1 for acc in book.accounts if acc.seasonal),
        "users": sum(len(acc.users) for acc in book.accounts),
        "outcomes": dict(sorted(Counter(r["outcome"] for r in book.outcomes).items())),
        "events": len(book.events),
        "by_type": dict(sorted(by_type.items())),
    }
