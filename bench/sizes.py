"""State sizes: the account value per account, offline with the pure core (the demo sample,
and one account with 20,000 daily active users), and as a worker stored it (its local store).

Offline figures use exactly the worker's encoding (`workers.core.codec.encode_state`): the
account value is what the worker writes under the account's key, once per batch when it
changed. User records are not in it: they live under their own keys (16-byte values, one
write per user and active day), and are counted apart.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from events.decode import decode_event
from events.models import AccountEvent, NpsEvent, TicketEvent, UsageEvent
from workers.core.codec import encode_state
from workers.core.engine import advance_to, apply_event, new_state
from workers.core.testing import default_rules
from workers.local.sample import generate_sample
from workers.stream import keys
from workers.stream.holding import hold
from workload import TOPIC_OF_TYPE

USER_RECORD_BYTES = 16  # workers.core.users: float64 last active + uint64 day mask


@dataclass
class Spread:
    """p50 / p99 / max of a list of sizes (nearest rank)."""

    count: int
    p50: int
    p99: int
    max: int
    mean: float

    @classmethod
    def of(cls, values: Sequence[int]) -> Spread | None:
        if not values:
            return None
        ordered = sorted(values)

        def rank(fraction: float) -> int:
            return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]

        return cls(len(ordered), rank(0.5), rank(0.99), ordered[-1], sum(ordered) / len(ordered))

    def text(self) -> str:
        return (
            f"p50 {self.p50:,} B   p99 {self.p99:,} B   max {self.max:,} B   "
            f"(mean {self.mean:,.0f} B, {self.count:,} accounts)"
        )


@dataclass
class SampleSizes:
    accounts: int
    events: int
    value_end: Spread  # the account value at the end of the sample
    value_peak: Spread  # each account's largest value at any day's end
    with_users: Spread  # value + its user records (keys and values), at the end
    users_max: int  # most user records of one account
    seconds: float


def sample_sizes() -> SampleSizes:
    """The demo sample (120 accounts, 8 weeks) through the pure core in the worker's order,
    every account advanced to the sample's end; each account's value measured at every day
    boundary of event time (the worker writes it at most once per batch) and at the end."""
    began = time.perf_counter()
    rules = default_rules()
    events = []
    for event in generate_sample():
        fields = {k: v for k, v in event.items() if k != "type"}
        topic = TOPIC_OF_TYPE[event["type"]]
        model = decode_event(topic, json.dumps(fields).encode(), 1 << 20)
        events.append(hold(model, topic, b"", None))
    events.sort()
    states: dict[str, object] = {}
    peak: dict[str, int] = defaultdict(int)
    touched: set[str] = set()
    day = None
    last = None
    for held in events:
        model = held.model
        this_day = model.occurred_at.date()
        if day is not None and this_day != day:
            for account_id in touched:
                peak[account_id] = max(peak[account_id], len(encode_state(states[account_id])))
            touched.clear()
        day = this_day
        state = states.get(model.account_id)
        if state is None:
            state = states[model.account_id] = new_state(model.account_id)
        apply_event(state, model, rules)  # type: ignore[arg-type]
        touched.add(model.account_id)
        last = model.occurred_at
    assert last is not None
    end = last + timedelta(seconds=1)
    values: list[int] = []
    totals: list[int] = []
    users_max = 0
    for account_id, state in states.items():
        advance_to(state, end, rules)  # type: ignore[arg-type]
        size = len(encode_state(state))  # type: ignore[arg-type]
        peak[account_id] = max(peak[account_id], size)
        users = list(state.users.items())  # type: ignore[attr-defined]
        users_max = max(users_max, len(users))
        user_bytes = sum(
            len(keys.user_key(account_id, user)) + USER_RECORD_BYTES for user, _ in users
        )
        values.append(size)
        totals.append(size + user_bytes)
    return SampleSizes(
        accounts=len(states),
        events=len(events),
        value_end=Spread.of(values),  # type: ignore[arg-type]
        value_peak=Spread.of(list(peak.values())),  # type: ignore[arg-type]
        with_users=Spread.of(totals),  # type: ignore[arg-type]
        users_max=users_max,
        seconds=time.perf_counter() - began,
    )


@dataclass
class BigAccount:
    users: int
    days: int
    events: int
    largest_value: int  # largest account value at any write point
    final_value: int
    user_writes: int  # user-record writes (one per user and active day)
    write_every: int
    seconds: float
    sizes_by_day: list[int] = field(default_factory=list)


def big_account(users: int, days: int, write_every: int) -> BigAccount:
    """One enterprise account with `users` daily active users (uuid-like ids) for `days`
    days, every event through `workers.core.engine.apply_event`, plus a ticket and an NPS
    response a day; the value is encoded every `write_every` events (the worker's batch: it
    writes an account at most once per batch) and at each day's end."""
    began = time.perf_counter()
    rules = default_rules()
    account = "big-20k"
    ids = [str(uuid.UUID(int=(7 << 64) + i)) for i in range(users)]
    t0 = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
    state = new_state(account)
    puts = 0
    store = state.users
    real_put = store.put

    def counting_put(user: str, record: object) -> None:
        nonlocal puts
        puts += 1
        real_put(user, record)  # type: ignore[arg-type]

    store.put = counting_put  # type: ignore[method-assign]
    apply_event(
        state,
        AccountEvent.model_construct(
            event_id="facts",
            account_id=account,
            occurred_at=t0,
            segment="enterprise",
            licensed_seats=int(users * 1.25),
            champion_user_id=ids[0],
            csm_id="csm-big",
            renewal_date=(t0 + timedelta(days=200)).date(),
        ),
        rules,
    )
    largest = 0
    n = 0
    by_day: list[int] = []
    features = ("dashboards", "reports", "alerts", "integrations", "automation", "exports", "x")
    for day in range(days):
        start = t0 + timedelta(days=day, hours=8)
        for i, user in enumerate(ids):
            event = UsageEvent.model_construct(
                event_id=f"d{day}-{i}",
                account_id=account,
                occurred_at=start + timedelta(seconds=i * 1.5),
                user_id=user,
                feature=features[(i + day) % len(features)],
                quantity=1 + i % 3,
            )
            apply_event(state, event, rules)
            n += 1
            if n % write_every == 0:
                largest = max(largest, len(encode_state(state)))
        evening = t0 + timedelta(days=day, hours=23)
        apply_event(
            state,
            TicketEvent.model_construct(
                event_id=f"t{day}",
                account_id=account,
                occurred_at=evening,
                ticket_id=f"T{day}",
                status="opened",
                priority="high",
            ),
            rules,
        )
        apply_event(
            state,
            NpsEvent.model_construct(
                event_id=f"n{day}",
                account_id=account,
                occurred_at=evening + timedelta(minutes=30),
                score=day % 11,
                respondent_id=ids[day],
            ),
            rules,
        )
        size = len(encode_state(state))
        by_day.append(size)
        largest = max(largest, size)
    advance_to(state, t0 + timedelta(days=days, hours=1), rules)
    final = len(encode_state(state))
    return BigAccount(
        users=users,
        days=days,
        events=n,
        largest_value=max(largest, final),
        final_value=final,
        user_writes=puts,
        write_every=write_every,
        seconds=time.perf_counter() - began,
        sizes_by_day=by_day,
    )


@dataclass
class StoreSizes:
    """What a worker's local store holds (read after the worker stopped)."""

    accounts: int
    value: Spread | None  # the account value
    with_users: Spread | None  # the account value + its user records, keys included
    keys: int
    disk_bytes: int  # every file under the data directory


def disk_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def store_sizes(data_dir: Path, app_id: str, accounts: set[str] | None = None) -> StoreSizes:
    """Per-account sizes in every partition store under `data_dir`/`app_id`/state (rocksdict,
    opened read-only); `accounts` restricts the figures to those accounts."""
    from rocksdict import AccessType, Options, Rdict

    values: dict[str, int] = {}
    totals: dict[str, int] = defaultdict(int)
    count = 0
    root = data_dir / app_id / "state"
    for path in sorted(root.glob("p*")):
        db = Rdict(str(path), Options(raw_mode=True), access_type=AccessType.read_only())
        try:
            for key, value in db.items():
                count += 1
                if not keys.is_v2(key) or key.startswith((keys.META, keys.COMMIT)):
                    continue
                account_id = keys.account_of(key)
                if accounts is not None and account_id not in accounts:
                    continue
                if key.startswith(keys.ACCOUNT):
                    values[account_id] = len(value)
                if key.startswith((keys.ACCOUNT, keys.USER)):
                    totals[account_id] += len(key) + len(value)
        finally:
            db.close()
    return StoreSizes(
        accounts=len(values),
        value=Spread.of(list(values.values())),
        with_users=Spread.of([totals[a] for a in values]),
        keys=count,
        disk_bytes=disk_bytes(data_dir),
    )
