"""Guards that keep the owner's triggers but make them trustworthy (README, "Alert quality").

Each guard answers one question a CSM would ask before trusting an alert, from state the
account already keeps (daily 7-day distinct-user snapshots, the champion's activity mask):
- is this drop more than one or two people being out? (a minimum population and a
  significance test on the users lost);
- does it last, or is it one odd week (a holiday, a team off-site)? (the drop must hold in
  the windows ending on several consecutive days);
- is a slow decline a decline? (the same percentage against a month earlier, with no week in
  between above where it started);
- is the champion's silence unusual for this champion? (against their own longest gap).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .usage import WEEK, UsageAggregates, users_in_window
from .users import MASK_DAYS, UserRecord

_EPS = 1e-9


@dataclass(frozen=True)
class Drop:
    before: int  # distinct users in the 7 days `weeks` weeks before the last 7 days
    after: int  # distinct users in the last 7 days
    weeks: int  # 1: week over week; more: a decline over that many weeks
    confirmed_days: int  # consecutive days (windows ending on them) it held


def significant(before: int, after: int, z: float) -> bool:
    """The users lost are at least z standard deviations of the difference of two counts
    (sqrt(before + after)): 20 -> 14 is not, 20 -> 8 is, 200 -> 140 is."""
    return before - after + _EPS >= z * math.sqrt(before + after)


def _drop_at(
    usage: UsageAggregates,
    end: int,
    weeks: int,
    drop_at_least: float,
    min_before: int,
    z: float,
) -> tuple[int, int] | None:
    after = users_in_window(usage, end, WEEK)
    before = users_in_window(usage, end - WEEK * weeks, WEEK)
    if before < min_before or before == 0:
        return None
    if after > before * (1 - drop_at_least) + _EPS:
        return None
    if not significant(before, after, z):
        return None
    for k in range(1, weeks):
        # A decline, not a spike and a fall: no week in between above where it started.
        if users_in_window(usage, end - WEEK * k, WEEK) > before:
            return None
    return before, after


def confirmed_drop(
    usage: UsageAggregates,
    yesterday: int,
    *,
    drop_at_least: float,
    min_before: int,
    z: float,
    confirm_days: int,
    decline_weeks: int,
) -> Drop | None:
    """The week-over-week drop (else the decline over `decline_weeks`) that holds in the
    7-day windows ending on each of the last `confirm_days` days, or None."""
    spans = [1] + ([decline_weeks] if decline_weeks > 1 else [])
    for weeks in spans:
        first = None
        for k in range(confirm_days):
            found = _drop_at(usage, yesterday - k, weeks, drop_at_least, min_before, z)
            if found is None:
                break
            if first is None:
                first = found
        else:
            assert first is not None
            return Drop(before=first[0], after=first[1], weeks=weeks, confirmed_days=confirm_days)
    return None


def longest_gap(record: UserRecord | None) -> int:
    """The longest run of days between two active days in the user's mask (64 days up to
    their last active day; 1 = active on consecutive days); 0 with fewer than two."""
    if record is None:
        return 0
    mask = record.mask
    longest = 0
    previous = None
    for bit in range(MASK_DAYS):
        if mask >> bit & 1:
            if previous is not None:
                longest = max(longest, bit - previous)
            previous = bit
    return longest


def silence_limit(max_inactive_days: int, rhythm_factor: float, gap: int) -> int:
    """Whole days of silence the champion may have before it is an alarm."""
    return max(max_inactive_days, math.ceil(rhythm_factor * gap))
