"""`generate_sample()`: the whole book as events sorted by `occurred_at`, with ids, timestamps
and a handful of duplicate deliveries."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from workers.local.sample.activity import _account_events, _nps, _tickets, _usage
from workers.local.sample.book import _Account, _Builder
from workers.local.sample.catalogue import _SEGMENT_CYCLE
from workers.local.sample.engagement import activities, assign_engagement, success_plan
from workers.local.sample.stories import (
    _assign_cross_cutting,
    _convert_healthy,
    _make_account,
    _plan_counts,
    _shape_story,
)

_ID_TAG = {
    "account": "a",
    "ticket": "t",
    "nps": "n",
    "usage": "u",
    "activity": "c",
    "milestone": "m",
}


def generate_sample(
    accounts: int = 120,
    weeks: int = 8,
    seed: int = 7,
    start: date = date(2026, 8, 31),
) -> list[dict[str, Any]]:
    """The demo sample: events sorted by `occurred_at`, ties broken deterministically.

    Same arguments, same list, on any machine: nothing here reads a clock.
    """
    if accounts < 1 or weeks < 1:
        raise ValueError("accounts and weeks must be at least 1")
    rng = random.Random(seed)
    n_days = weeks * 7
    id_width = max(3, len(str(accounts)))

    labels = _plan_counts(accounts)
    rng.shuffle(labels)  # interleave the stories across account ids
    nth: Counter[str] = Counter()
    names: set[str] = set()
    accs: list[_Account] = []
    for index, label in enumerate(labels):
        segment = _SEGMENT_CYCLE[nth[label] % len(_SEGMENT_CYCLE)]
        acc = _make_account(rng, index, label, segment, start, n_days, id_width, names)
        acc.extra["nth"] = nth[label]
        acc.extra["start"] = start
        nth[label] += 1
        accs.append(acc)

    _assign_cross_cutting(rng, accs, n_days)
    _convert_healthy(accs, seed, start, n_days, id_width, names)
    assign_engagement(random.Random(f"{seed}:engagement"), accs)
    b = _Builder(start, n_days)
    for acc in accs:
        # One child generator per account: a story's randomness does not shift the others.
        arng = random.Random(f"{seed}:{acc.account_id}")
        _shape_story(arng, acc, n_days)
        _account_events(arng, b, acc, accounts)
        _tickets(arng, b, acc)
        _nps(arng, b, acc)
        _usage(arng, b, acc)
        # Touchpoints and success plans: a generator of their own, so the events above are
        # exactly what they were before them.
        erng = random.Random(f"{seed}:{acc.account_id}:engagement")
        activities(erng, b, acc)
        success_plan(erng, b, acc)

    return _finish(rng, b, accs, start)


def _finish(
    rng: random.Random, b: _Builder, accs: list[_Account], start: date
) -> list[dict[str, Any]]:
    b.raw.sort(key=lambda r: r[:4])
    base = datetime(start.year, start.month, start.day, tzinfo=UTC)
    counters: Counter[tuple[int, str]] = Counter()
    events: list[dict[str, Any]] = []
    stamp_cache: dict[int, str] = {}
    # Tickets are numbered per account in the order they were opened (generation order is
    # by story, not by time).
    ticket_numbers: dict[str, str] = {}
    for sec, _, acc_index, _, kind, fields in b.raw:
        acc = accs[acc_index]
        counters[(acc_index, kind)] += 1
        if kind == "ticket":
            raw_id = fields["ticket_id"]
            if raw_id not in ticket_numbers:
                counters[(acc_index, "ticket_id")] += 1
                n = counters[(acc_index, "ticket_id")]
                ticket_numbers[raw_id] = f"{acc.account_id}-ticket-{n}"
            fields = {**fields, "ticket_id": ticket_numbers[raw_id]}
        stamp = stamp_cache.get(sec)
        if stamp is None:
            stamp = (base + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%SZ")
            stamp_cache[sec] = stamp
        events.append(
            {
                "type": kind,
                "event_id": f"{acc.account_id}-{_ID_TAG[kind]}-{counters[(acc_index, kind)]}",
                "account_id": acc.account_id,
                "occurred_at": stamp,
                **fields,
            }
        )
    return _with_duplicates(rng, events)


def _with_duplicates(rng: random.Random, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Redeliver a handful of events (same event_id, same payload), as at-least-once does.

    The copy sits right after the original because the file is sorted by event time; the
    workers must count it once (idempotency) and raise no second task from it.
    """
    if len(events) < 50:
        return events
    picks: set[int] = set()
    detractor = next(
        (i for i, e in enumerate(events) if e["type"] == "nps" and e["score"] <= 6), None
    )
    escalated = next(
        (i for i, e in enumerate(events) if e["type"] == "ticket" and e["status"] == "escalated"),
        None,
    )
    picks.update(i for i in (detractor, escalated) if i is not None)
    picks.add(1)  # an account event: a CRM sync that ran twice
    usage = [i for i, e in enumerate(events) if e["type"] == "usage"]
    picks.update(rng.sample(usage, min(8, len(usage))))
    out: list[dict[str, Any]] = []
    for i, event in enumerate(events):
        out.append(event)
        if i in picks:
            out.append(dict(event))
    return out
