"""Usage aggregates of one account: exact distinct-user counts without sets of user ids.

What the account value keeps (small, bounded whatever the number of users):
- `newest`: the newest event-time day with usage folded so far (N).
- `last_active`: a histogram, day -> users whose last active day it is, for days >= N-29.
  While no activity is known after a day e >= N, the users active in [e-L+1, e] are exactly
  those whose last active day is >= e-L+1: a sum over the histogram.
- `closed`: per closed day e (N-57 <= e < N), the distinct users active in the 7 and in the 30
  days ending on e, snapshotted from the histogram when the newest day moves past e (it cannot
  be derived later: a user active again after e moves out of the histogram's day). A late
  event on a day <= e corrects the snapshots exactly with the user's own activity mask (a user
  already active in a window is not counted again). Only non-zero snapshots are stored: a
  closed day within the kept range without one had no active user in either window. The
  30-day count is kept for N-34 <= e only (0 before: its window reaches past the mask, so a late
  event could not correct it); the 7-day count for 57 days, so a decline can be read against
  7 weeks earlier (usage_drop's long_decline_weeks).
- `volume`: usage quantity per day; `features`: per feature, its last day used and a 64-day
  mask of the days it was used.

The metrics of an evaluation on day D read windows ending on D-1 (last 7 and 30 days) and D-8
(the 7 days before): both come from the histogram or a snapshot, exact for any D >= N-26 -
the engine only evaluates at or after the newest folded event. The user records themselves
(last active time and day mask, see users.py) live in the account's `UserStore`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .users import MASK_DAYS, UserRecord, UserStore, active_between, last_day, with_day

WEEK = 7
MONTH = 30  # the longest distinct-user window
# Closed days whose window counts are kept. A late event corrects the 30-day count of a closed
# day e through the user's mask, which reaches 64 days back: e-29 must stay within it.
CLOSED_DAYS = MASK_DAYS - MONTH
# Closed days whose 7-day count is kept: the same correction of a 7-day window ending on e
# needs e-6 within the mask.
WEEK_CLOSED_DAYS = MASK_DAYS - WEEK
MAX_FEATURES = 1000  # distinct features remembered per account (least recently used dropped)


@dataclass
class UsageAggregates:
    newest: int | None = None
    last_active: dict[int, int] = field(default_factory=dict)
    closed: dict[int, list[int]] = field(default_factory=dict)  # day -> [users 7d, users 30d]
    volume: dict[int, int] = field(default_factory=dict)
    features: dict[str, list[int]] = field(default_factory=dict)  # name -> [last day, mask]


def note_feature(features: dict[str, list[int]], name: str, day: int) -> bool:
    """Mark `name` used on `day`; True when that changed anything."""
    entry = features.get(name)
    if entry is None:
        features[name] = [day, 1]
        if len(features) > MAX_FEATURES:
            _drop_least_recent(features)
        return True
    top = entry[0]
    if day == top:
        return False  # the hot path: bit 0 (the last day) is always set
    if day > top:
        shift = day - top
        entry[0] = day
        entry[1] = ((entry[1] << shift) | 1) & ((1 << MASK_DAYS) - 1) if shift < MASK_DAYS else 1
        return True
    back = top - day
    if back >= MASK_DAYS or (entry[1] >> back) & 1:
        return False
    entry[1] |= 1 << back
    return True


def _drop_least_recent(features: dict[str, list[int]]) -> None:
    # A tenth at a time, so an account with endless new feature names does not sort per event.
    keep = sorted(features.items(), key=lambda kv: (-kv[1][0], kv[0]))[: MAX_FEATURES * 9 // 10]
    features.clear()
    features.update(sorted(keep))


def note_user_day(
    usage: UsageAggregates,
    users: UserStore,
    user: str,
    record: UserRecord | None,
    day: int,
    ts: float,
) -> None:
    """Fold a user's activity on a day not yet in their record (or an earlier first activity
    of their last day): histogram, snapshots and the record."""
    updated = with_day(record, day, ts)
    if updated is None:
        return
    newest = usage.newest
    if newest is None or day > newest:
        if newest is not None:
            _close_days(usage, newest, day)
        usage.newest = newest = day
        floor = newest - (MONTH - 1)
        hist = usage.last_active
        for old in [d for d in hist if d < floor]:
            del hist[old]
        _age_closed(usage.closed, newest)
    if record is None or day > last_day(record):
        # The user's last active day moves to `day`. Days below the floor are not counted
        # (pruned): a user moving from one of them is only added.
        hist = usage.last_active
        floor = newest - (MONTH - 1)
        if record is not None:
            previous = last_day(record)
            if previous >= floor:
                left = hist[previous] - 1
                if left:
                    hist[previous] = left
                else:
                    del hist[previous]
        if day >= floor:
            hist[day] = hist.get(day, 0) + 1
    if day < newest and (record is None or last_day(record) != day):
        _correct_closed(usage, record, day)
    users.put(user, updated)


def _close_days(usage: UsageAggregates, newest: int, new_newest: int) -> None:
    """Snapshot the window counts of the days [newest, new_newest) as they close. Nothing is
    known after `newest`, so a window's users are those last active within it."""
    hist = sorted(usage.last_active.items())
    closed = usage.closed
    for end in range(max(newest, new_newest - WEEK_CLOSED_DAYS), new_newest):
        if end - (MONTH - 1) > newest:
            break  # every later window is empty too
        week = month = 0
        for d, n in hist:
            if d >= end - (MONTH - 1):
                month += n
                if d >= end - (WEEK - 1):
                    week += n
        if week or month:
            # A 30-day count past CLOSED_DAYS already is trimmed by _age_closed, which
            # note_user_day runs right after with the same newest day.
            closed[end] = [week, month]


def _age_closed(closed: dict[int, list[int]], newest: int) -> None:
    """Forget the snapshots that can no longer be corrected exactly: the 30-day count of a day
    older than CLOSED_DAYS, then the day itself after WEEK_CLOSED_DAYS. (The stored shape stays
    [week, month], so a reader of the previous layout reads them as it read absent days.)"""
    for day in [d for d in closed if d < newest - CLOSED_DAYS]:
        counts = closed[day]
        if day < newest - WEEK_CLOSED_DAYS or not counts[0]:
            del closed[day]
        elif counts[1]:
            counts[1] = 0


def _correct_closed(usage: UsageAggregates, record: UserRecord | None, day: int) -> None:
    """A user's first activity on `day`, older than the newest day: count them in every closed
    window containing `day` unless the record shows them active in that window already."""
    newest = usage.newest
    assert newest is not None
    closed = usage.closed
    month_from = newest - CLOSED_DAYS
    for end in range(max(day, newest - WEEK_CLOSED_DAYS), min(day + MONTH - 1, newest - 1) + 1):
        add_week = end - (WEEK - 1) <= day and not active_between(record, end - (WEEK - 1), end)
        add_month = end >= month_from and not active_between(record, end - (MONTH - 1), end)
        if add_week or add_month:
            counts = closed.get(end)
            if counts is None:
                counts = closed[end] = [0, 0]
            counts[0] += add_week
            counts[1] += add_month


def users_in_window(usage: UsageAggregates, end: int, length: int) -> int:
    """Distinct users active in the `length` days ending on day `end` (7 or 30)."""
    newest = usage.newest
    if newest is None:
        return 0
    if end >= newest:
        first = end - length + 1
        return sum(n for d, n in usage.last_active.items() if d >= first)
    # A closed day: its snapshot (absent = no user). Beyond the kept range: read as empty,
    # like the pruned day buckets of before.
    counts = usage.closed.get(end)
    if counts is None:
        return 0
    return counts[0] if length == WEEK else counts[1]


def features_between(usage: UsageAggregates, first: int, last: int) -> frozenset[str]:
    out = []
    for name, (top, mask) in usage.features.items():
        low_bit = max(0, top - last)
        high_bit = min(MASK_DAYS - 1, top - first)
        if high_bit >= low_bit and mask >> low_bit & ((1 << (high_bit - low_bit + 1)) - 1):
            out.append(name)
    return frozenset(out)


def volume_between(usage: UsageAggregates, first: int, last: int) -> int:
    return sum(q for d, q in usage.volume.items() if first <= d <= last)


def prune_usage(usage: UsageAggregates, oldest_day: int) -> None:
    """Drop volume days and features not used since `oldest_day` (outside every window)."""
    volume = usage.volume
    for day in [d for d in volume if d < oldest_day]:
        del volume[day]
    features = usage.features
    for name in [f for f, entry in features.items() if entry[0] < oldest_day]:
        del features[name]
