"""Per-user activity, kept outside the account value: one small fixed-size record per user.

An account's value must stay small whatever its number of users (Kafka refuses messages over
1 MB, and every write re-encodes the value), so what is known per user lives in a `UserStore`
keyed by (account, user): the live shell backs it with its local store and writes each changed
record under its own key (`encode_user`, 16 bytes); backtests and unit tests use the in-memory
`DictUserStore`.

A record is written at most once per user and event-time day (the user's first activity of the
day): the rest of that day's events find the day's bit already set and change nothing.
"""

from __future__ import annotations

import struct
from typing import NamedTuple, Protocol

from .days import DAY

MASK_DAYS = 64  # days of activity history per user: bits of the mask
FULL_MASK = (1 << MASK_DAYS) - 1


class UserRecord(NamedTuple):
    """`last_active`: event time of the user's first activity on their last active day (the
    first one folded; an earlier one of the same day arriving late replaces it).
    `mask`: bit i set = active on day (last active day - i), for i < 64; bit 0 is always set."""

    last_active: float
    mask: int


class UserStore(Protocol):
    """Where an account's user records live; `get` is on the hot path (once per usage event),
    `put` at most once per user and day."""

    def get(self, user_id: str, /) -> UserRecord | None: ...

    def put(self, user_id: str, record: UserRecord, /) -> None: ...


class DictUserStore(dict[str, UserRecord]):
    """In memory: a dict whose `get` is the plain (C-level) dict lookup."""

    put = dict.__setitem__


_RECORD = struct.Struct("<dQ")  # last_active (float64), mask (uint64): 16 bytes


def encode_user(record: UserRecord) -> bytes:
    return _RECORD.pack(record.last_active, record.mask)


def decode_user(raw: bytes) -> UserRecord:
    last_active, mask = _RECORD.unpack(raw)
    return UserRecord(last_active, mask)


def last_day(record: UserRecord) -> int:
    return int(record.last_active // DAY)


def active_between(record: UserRecord | None, first: int, last: int) -> bool:
    """Active on any day in [first, last], as far as the mask reaches (64 days back from the
    last active day; nothing after the last active day)."""
    if record is None or last < first:
        return False
    top = int(record.last_active // DAY)
    low_bit = max(0, top - last)  # the newest day of the range, as a bit index
    high_bit = min(MASK_DAYS - 1, top - first)  # the oldest day of the range
    if high_bit < low_bit:
        return False
    span = ((1 << (high_bit + 1)) - 1) ^ ((1 << low_bit) - 1)
    return record.mask & span != 0


def with_day(record: UserRecord | None, day: int, ts: float) -> UserRecord | None:
    """The record after an activity at `ts` on `day`; None when nothing changes (the day is
    already set, or is older than the mask reaches)."""
    if record is None:
        return UserRecord(ts, 1)
    top = int(record.last_active // DAY)
    if day > top:
        shift = day - top
        mask = ((record.mask << shift) | 1) & FULL_MASK if shift < MASK_DAYS else 1
        return UserRecord(ts, mask)
    if day == top:
        # Same last day: only an earlier first activity of that day changes the record.
        return UserRecord(ts, record.mask) if ts < record.last_active else None
    back = top - day
    if back >= MASK_DAYS or (record.mask >> back) & 1:
        return None
    return UserRecord(record.last_active, record.mask | (1 << back))
