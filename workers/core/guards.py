"""Guards that keep the owner's triggers but make them trustworthy (README, "Alert quality").

Each guard answers one question a CSM would ask before trusting an alert, from state the
account already keeps (daily 7-day distinct-user snapshots, the champion's activity mask):
- is this drop more than one or two people being out? (a minimum population and a
  significance test on the users lost);
- does it last, or is it one odd week (a holiday, a team off-site)? (the drop must hold in
  the windows ending on several consecutive days);
- is a slow decline a decline? (the same percentage against a month, or seven weeks, earlier,
  with no week in between above where it started; on an account too small for the z test,
  weekly counts that fall steadily: a Mann-Kendall trend score);
- is the champion's silence unusual for this champion? (against their own longest gap, not
  counting the days the whole book was off);
- does the whole book share the drop? (book.py: then it is no one account's alarm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .book import BookActivity
from .usage import WEEK, UsageAggregates, users_in_window
from .users import MASK_DAYS, UserRecord

EPS = 1e-9  # float slack for thresholds met exactly
RECENT_WEEKS = 3  # a long decline's "still falling": against the 7 days this many weeks back

# The partition's book, its `min_accounts` and `off_week_below` (rules.book_baseline), or None:
# the account alone.
Baseline = tuple[BookActivity, int, float]


@dataclass(frozen=True)
class Drop:
    before: int  # distinct users in the 7 days `weeks` weeks before the last 7 days
    after: int  # distinct users in the last 7 days
    weeks: int  # 1: week over week; more: a held step or a decline over that many weeks
    confirmed_days: int  # consecutive days (windows ending on them) it held
    step: bool = False  # found by the held-step rule (step_weeks), not the decline
    trend: bool = False  # found by the steady-fall test (trend_z), not the z test


def significant(before: float, after: float, z: float) -> bool:
    """The users lost are at least z standard deviations of the difference of two counts
    (sqrt(before + after)): 20 -> 14 is not, 20 -> 8 is, 200 -> 140 is."""
    return before - after + EPS >= z * math.sqrt(before + after)


@dataclass(frozen=True)
class Span:
    """One way a drop can count: against the 7 days `weeks` weeks before the last 7."""

    weeks: int
    z: float  # significance of the users lost (sqrt(before + after) test)
    min_before: int  # users in the earlier 7 days
    prior_below: float = 0.0  # the week before the last already this far below the start
    recent_below: float = 0.0  # the last week this far below RECENT_WEEKS earlier
    step: bool = False  # a held step (reported as such)
    # A steady fall instead of the z test and the in-between weeks: the Mann-Kendall score of
    # the weekly counts from the start to now at or below -trend_z.
    trend_z: float = 0.0


def trend_score(counts: list[int]) -> float:
    """The Mann-Kendall trend test's z score of a series (ties accounted for, continuity
    corrected): about -2 or lower when it falls more steadily than chance would make it."""
    n = len(counts)
    s = 0
    for i in range(n):
        for j in range(i + 1, n):
            s += (counts[j] > counts[i]) - (counts[j] < counts[i])
    ties: dict[int, int] = {}
    for c in counts:
        ties[c] = ties.get(c, 0) + 1
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties.values())) / 18
    if var <= 0 or s == 0:
        return 0.0
    return (s - 1 if s > 0 else s + 1) / math.sqrt(var)


def _drop_at(
    usage: UsageAggregates,
    end: int,
    span: Span,
    drop_at_least: float,
    book: Baseline | None,
) -> tuple[int, int] | None:
    weeks = span.weeks
    after = users_in_window(usage, end, WEEK)
    before = users_in_window(usage, end - WEEK * weeks, WEEK)
    if before < span.min_before or before == 0:
        return None
    judged = float(after)
    if book is not None:
        level = book[0].level(end, book[1])
        if level is not None and level < book[2]:
            return None  # a week off for the whole book: nobody's drop
        # What the account would have had had the book not dropped (never the other way:
        # a growing book does not make an account's steady week a drop).
        change = book[0].change(end, weeks, book[1])
        if change is not None and 0 < change < 1:
            judged = after / change
    if judged > before * (1 - drop_at_least) + EPS:
        return None
    # Still falling: a seasonal slump falls and then holds its level; a leaving customer keeps
    # losing users.
    if span.recent_below > 0:
        recent = users_in_window(usage, end - WEEK * RECENT_WEEKS, WEEK)
        if after > recent * (1 - span.recent_below) + EPS:
            return None
    if span.trend_z > 0:
        # Too few users for the z test: a fall week after week is the evidence instead.
        counts = [users_in_window(usage, end - WEEK * k, WEEK) for k in range(weeks, -1, -1)]
        return (before, after) if trend_score(counts) <= -span.trend_z + EPS else None
    if not significant(before, judged, span.z):
        return None
    for k in range(1, weeks):
        # A decline, not a spike and a fall: no week in between above where it started.
        if users_in_window(usage, end - WEEK * k, WEEK) > before:
            return None
    # Gradual, not one step down (a seasonal slump of a group of accounts, a team moved
    # elsewhere: the sudden rule's business, with its stricter guards): the week before the
    # last was already below where it started.
    if (
        weeks > 1
        and span.prior_below > 0
        and users_in_window(usage, end - WEEK, WEEK) > before * (1 - span.prior_below) + EPS
    ):
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
    decline_z: float | None = None,
    decline_min_before: int | None = None,
    decline_prior_below: float = 0.0,
    step_weeks: int = 0,
    long_decline_weeks: int = 0,
    long_decline_recent_below: float = 0.0,
    trend_z: float = 0.0,
    trend_min_before: int = 0,
    book: Baseline | None = None,
) -> Drop | None:
    """The week-over-week drop (else the step held `step_weeks`, else the decline over
    `decline_weeks`, else over `long_decline_weeks`, still `long_decline_recent_below` under
    the 7 days RECENT_WEEKS earlier, else the steady fall over `long_decline_weeks` with a
    trend score at or below -`trend_z`) that holds in the 7-day windows ending on each of the
    last `confirm_days` days, or None. A held step and a decline are tested at `decline_z`
    (default `z`) from `decline_min_before` users: weeks at the lower level are evidence of
    their own."""
    slow_z = z if decline_z is None else decline_z
    slow_min = min_before if decline_min_before is None else decline_min_before
    spans = [Span(1, z, min_before)]
    if step_weeks > 1:
        # A step down that held: every week since as far below the start as the last.
        spans.append(Span(step_weeks, slow_z, slow_min, prior_below=drop_at_least, step=True))
    if decline_weeks > 1:
        spans.append(Span(decline_weeks, slow_z, slow_min, prior_below=decline_prior_below))
    if long_decline_weeks > max(decline_weeks, 1):
        # The slowest churn loses a user every week or two: 30% takes longer than a month.
        spans.append(
            Span(
                long_decline_weeks,
                slow_z,
                slow_min,
                prior_below=decline_prior_below,
                recent_below=long_decline_recent_below,
            )
        )
        if trend_z > 0:
            # An account of a few users losing one every few weeks.
            spans.append(
                Span(
                    long_decline_weeks,
                    0.0,
                    trend_min_before,
                    recent_below=long_decline_recent_below,
                    trend_z=trend_z,
                )
            )
    for span in spans:
        first = None
        for k in range(confirm_days):
            found = _drop_at(usage, yesterday - k, span, drop_at_least, book)
            if found is None:
                break
            if first is None:
                first = found
        else:
            assert first is not None
            return Drop(first[0], first[1], span.weeks, confirm_days, span.step, span.trend_z > 0)
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


def book_days_off(
    book: Baseline | None,
    first: int,
    last: int,
    below: float,
    slump: tuple[float, int] | None = None,
) -> tuple[int, int]:
    """Days in [first, last] on which the whole book was off (book.quiet_day), and of the
    others those of a slump the account's peers shared: from the first day whose 7 days had
    at least `slump[0]` of the partition's peer readings dipped (read up to `slump[1]`) on.
    The peers' readings stop saying "dipped" after three weeks of a long slump (it becomes
    their usual), so the slump is taken to last while the caller's own dip does."""
    if book is None or last < first:
        return 0, 0
    activity, min_accounts, _ = book
    off = shared = 0
    began = False
    for day in range(first, last + 1):
        if slump is not None and not began and day <= slump[1]:
            share = activity.share_until(day, min_accounts)
            began = share is not None and share + EPS >= slump[0]
        if activity.quiet_day(day, min_accounts, below):
            off += 1
        elif began:
            shared += 1
    return off, shared


def last_usual_week(book: Baseline | None, yesterday: int, max_back: int = 21) -> int:
    """The last day ending a 7-day window in which the book was not off (its level at least
    `off_week_below`), at most `max_back` days back; `yesterday` when that is one already or
    no day qualifies."""
    if book is None:
        return yesterday
    activity, min_accounts, off_below = book
    for end in range(yesterday, yesterday - max_back - 1, -1):
        level = activity.level(end, min_accounts)
        if level is None or level >= off_below:
            return end
    return yesterday
