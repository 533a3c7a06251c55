"""The account value stays small whatever the number of users: an account with 20,000 daily
active users over 35 days encodes to at most 64 KB (Kafka's default message limit is 1 MB;
the first release's day buckets of user ids took 1.16 MB at 1,600 daily users)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from events.models import UsageEvent
from workers.core.codec import encode_state
from workers.core.engine import advance_to, apply_event, new_state
from workers.core.fold import fold_usage, remember_event
from workers.core.state import DAY, to_ts
from workers.core.testing import T0, Sim, at, default_rules
from workers.core.users import encode_user

RULES = default_rules()
USERS = 20_000
DAYS = 35
LIMIT = 64 * 1024
FEATURES = ("dashboards", "reports", "alerts", "integrations", "automation", "exports", "x")


def test_an_account_with_20000_daily_users_encodes_to_at_most_64_kb() -> None:
    users = [str(uuid.UUID(int=(7 << 64) + i)) for i in range(USERS)]
    state = new_state("acc-big")
    sim = Sim(account_id="acc-big")
    sim.state = state
    sim.account(at(0), segment="enterprise", licensed_seats=25_000, champion_user_id=users[0])
    start = to_ts(T0)
    puts = 0
    real_put = state.users.put

    def counting_put(user: str, record) -> None:  # type: ignore[no-untyped-def]
        nonlocal puts
        puts += 1
        real_put(user, record)

    state.users.put = counting_put  # type: ignore[method-assign]
    largest = 0
    n = 0
    for day in range(DAYS):
        # The engine's own path for the day's first event (evaluation catch-up, pruning), the
        # fold directly for the rest: the same state, without building 700,000 models.
        first = UsageEvent.model_construct(
            event_id=f"d{day}-first",
            account_id="acc-big",
            occurred_at=T0 + timedelta(days=day, hours=8),
            user_id=users[0],
            feature="dashboards",
            quantity=1,
        )
        apply_event(state, first, RULES)
        for i, user in enumerate(users):
            ts = start + day * DAY + 8 * 3600 + i
            event = UsageEvent.model_construct(
                event_id=f"d{day}-{i}",
                account_id="acc-big",
                user_id=user,
                feature=FEATURES[(i + day) % len(FEATURES)],
                quantity=1 + i % 3,
            )
            if remember_event(state, event, ts, RULES.dedup):
                fold_usage(state, event, RULES, ts)
            n += 1
        sim.ticket(at(day, 23), f"T{day}", "opened", "high")
        sim.nps(at(day, 23, 30), day % 11)
        largest = max(largest, len(encode_state(state)))
    advance_to(state, T0 + timedelta(days=DAYS, hours=1), RULES)
    size = len(encode_state(state))
    largest = max(largest, size)
    print(
        f"\n{USERS:,} daily users x {DAYS} days ({n:,} usage events): account value "
        f"{size:,} bytes at the end, largest {largest:,} bytes; {len(state.users):,} user "
        f"records of {len(encode_user(state.users.get(users[1])))} bytes, {puts:,} writes"
    )
    assert largest <= LIMIT
    # One record write per user and active day, not per event.
    assert puts <= USERS * DAYS + DAYS
    m = sim.state.usage_cache
    assert m is not None and m[2] == USERS  # active_users_7d
