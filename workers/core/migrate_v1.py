"""Version 1 account state -> version 2 (see codec.py): day buckets of user ids become user
records plus the aggregates of usage.py, with the same metrics.

Version 1 kept, per day (62 days), the set of active user ids (emptied after 31 days, its size
kept as `n_users`), the features used and the volume; per user, the time of their last
activity (`ula`, 62 days); and the last ~2,000 event ids in arrival order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .days import DAY, HOUR
from .dedup import event_digest
from .state import AccountState
from .usage import CLOSED_DAYS, MONTH, WEEK, UsageAggregates
from .users import MASK_DAYS, DictUserStore, UserRecord


def migrate_v1(
    d: dict[str, Any], state_from_dict: Callable[[dict[str, Any]], AccountState]
) -> tuple[AccountState, dict[str, UserRecord]]:
    """The migrated state (its in-memory user store filled) and the user records.
    `state_from_dict` is codec's reader of the version-2 dict this builds (passed in: codec
    calls this module, not the other way round)."""
    days: dict[int, list[Any]] = {int(k): v for k, v in (d.get("days") or {}).items()}
    users_of = {day: set(bucket[0]) for day, bucket in days.items()}
    last_seen: dict[str, float] = dict(d.get("ula") or {})

    # Per user: active days known from the buckets, and the last activity time.
    active: dict[str, set[int]] = {}
    for day, users in users_of.items():
        for user in users:
            active.setdefault(user, set()).add(day)
    records: dict[str, UserRecord] = {}
    for user in sorted(set(active) | set(last_seen)):
        user_days = active.get(user, set())
        ts = last_seen.get(user)
        top = max(user_days, default=None)
        if ts is not None:
            top = max(top if top is not None else int(ts // DAY), int(ts // DAY))
        else:
            assert top is not None
            ts = float(top * DAY)  # not in `ula` (cannot happen in practice): start of day
        if int(ts // DAY) != top:
            ts = float(top * DAY)
        mask = 1
        for day in user_days:
            back = top - day
            if 0 <= back < MASK_DAYS:
                mask |= 1 << back
        records[user] = UserRecord(ts, mask)

    usage = UsageAggregates()
    if days:
        newest = max(days)
        usage.newest = newest
        floor = newest - (MONTH - 1)
        for record in records.values():
            top = int(record.last_active // DAY)
            if floor <= top <= newest:
                usage.last_active[top] = usage.last_active.get(top, 0) + 1
        for end in range(newest - CLOSED_DAYS, newest):
            week = _distinct(days, users_of, end, WEEK)
            month = _distinct(days, users_of, end, MONTH)
            if week or month:
                usage.closed[end] = [week, month]
        usage.volume = {day: int(bucket[2]) for day, bucket in sorted(days.items())}
        for day in sorted(days):
            for name in days[day][1]:
                entry = usage.features.get(name)
                if entry is None:
                    usage.features[name] = [day, 1]
                else:
                    shift = day - entry[0]
                    entry[0] = day
                    entry[1] = ((entry[1] << shift) | 1) & ((1 << MASK_DAYS) - 1)

    v2 = {k: v for k, v in d.items() if k not in ("days", "ula", "seen")}
    v2["v"] = 2
    state = state_from_dict(v2)
    state.usage = usage
    # Version 1 remembered ids of every kind in one ring, without their times: kept in the
    # longer-lived ring, as of the account's clock.
    hour = int((d.get("clk") or 0) // HOUR)
    state.seen.other = {event_digest(event_id): hour for event_id in d.get("seen", ())}
    state.users = DictUserStore(records)
    return state, records


def _distinct(
    days: dict[int, list[Any]], users_of: dict[int, set[str]], end: int, length: int
) -> int:
    """Distinct users of the days [end-length+1, end], as version 1 counted them: a bucket
    whose ids were pruned still contributes its count (to the 30-day window only)."""
    users: set[str] = set()
    pruned = 0
    for day in range(end - length + 1, end + 1):
        bucket = days.get(day)
        if bucket is None:
            continue
        users |= users_of[day]
        if not users_of[day] and length == MONTH:
            pruned = max(pruned, int(bucket[3]))
    return max(len(users), pruned)
