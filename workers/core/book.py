"""The book baseline: what the accounts of a partition do together, day by day.

A drop every account shares (a holiday, a company-wide outage of the customer's week, a
seasonal slump of the whole book) is not one account's alarm. Each account's guards read it
through `BookActivity`, which counts, per event-time day, the user-days (a user's first
activity of the day) and the active accounts of the accounts it is shared by.

Who shares one: the accounts of one input partition (a live worker keeps one per partition
in its store; `backtest` keeps one per partition of the same count, so replay and worker agree).
A partition holds a hash-random sample of the book, so its daily rhythm is the book's; below
`min_accounts` active accounts it says nothing and the guards use the account alone.

Only completed days are read (windows ending before the evaluation's day), which every event
of a partition has reached in event-time order, so the reading is deterministic.

Peers: a slump a group of accounts shares (a region's summer, a vertical's season) barely moves
the book's user-days, but many accounts dip together. Each account, at its first event of a
new day, says whether it is in a dip on the day before (its 7-day users under a share of its
usual, the mean of its weeks 3 and 4 before) - `note_peer`; `cohort_share` reads the share of the
partition's accounts in a dip over a week. The day d is noted by events of d + 1, so it is read
only from the evaluations of d + 2 on: by then every account active on d + 1 has spoken (the
reading depends on the partition's event order only, as a replay has it).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field

from .usage import UsageAggregates, users_in_window

WEEK = 7
KEEP_DAYS = 100  # the longest read (4 weeks before a 4-week decline) with a margin
USUAL_WEEKS = 4  # the book's usual level: the median of this many weeks before a window
# An account's usual for its peer reading: the 7-day windows 3 and 4 weeks before (the horizon
# of usage_drop's decline rule, so a slump reads as shared for as long as it can fire).
PEER_WEEKS = (3, 4)


@dataclass
class BookActivity:
    user_days: dict[int, int] = field(default_factory=dict)
    accounts: dict[int, int] = field(default_factory=dict)  # active accounts per day
    # Per day: the accounts that said whether they were in a dip on it, and those that were.
    peers: dict[int, int] = field(default_factory=dict)
    dipped: dict[int, int] = field(default_factory=dict)
    dirty: bool = field(default=False, compare=False)

    def note(self, day: int, new_user_day: bool, new_account_day: bool) -> None:
        if new_user_day:
            self.user_days[day] = self.user_days.get(day, 0) + 1
            self.dirty = True
        if new_account_day:
            self.accounts[day] = self.accounts.get(day, 0) + 1
            self.dirty = True
            if len(self.accounts) > KEEP_DAYS + 14:
                self._prune(max(self.accounts) - KEEP_DAYS)

    def note_peer(self, usage: UsageAggregates, day: int, dip_below: float, min_users: int) -> None:
        """Count the account among the day's peers, and among the dipped when its 7-day users
        ending on `day` are under `dip_below` of its usual (accounts of `min_users` or more)."""
        weeks = [users_in_window(usage, day - WEEK * k, WEEK) for k in PEER_WEEKS]
        usual = statistics.mean(weeks)
        if min(weeks) == 0 or usual < min_users:
            return  # a new (or returning) account has no usual yet; a small one says little
        self.peers[day] = self.peers.get(day, 0) + 1
        if users_in_window(usage, day, WEEK) < dip_below * usual:
            self.dipped[day] = self.dipped.get(day, 0) + 1
        self.dirty = True

    def cohort_share(self, today: int, min_accounts: int) -> float | None:
        """The share of peer readings in a dip over the 7 days ending two days before `today`
        (the last day every peer has noted); None under `min_accounts` peers on its busiest day."""
        return self.share_until(today - 2, min_accounts)

    def share_until(self, last: int, min_accounts: int) -> float | None:
        """The share of peer readings in a dip over the 7 days ending on `last` (read it only
        for days before yesterday: see cohort_share)."""
        days = range(last - WEEK + 1, last + 1)
        if max((self.peers.get(d, 0) for d in days), default=0) < min_accounts:
            return None
        seen = sum(self.peers.get(d, 0) for d in days)
        return sum(self.dipped.get(d, 0) for d in days) / seen

    def _prune(self, oldest: int) -> None:
        for days in (self.user_days, self.accounts, self.peers, self.dipped):
            for day in [d for d in days if d < oldest]:
                del days[day]

    def window(self, end: int, length: int = WEEK) -> int:
        days = self.user_days
        return sum(days.get(d, 0) for d in range(end - length + 1, end + 1))

    def active_accounts(self, end: int, length: int = WEEK) -> int:
        """The most accounts active on one day of the window (a weekday)."""
        return max((self.accounts.get(d, 0) for d in range(end - length + 1, end + 1)), default=0)

    def level(self, end: int, min_accounts: int) -> float | None:
        """The book's user-days in the 7 days ending on `end` over its usual level (the median
        of the 4 weeks before); None when too few accounts share the book to say."""
        if self.active_accounts(end) < min_accounts:
            return None
        usual = statistics.median(self.window(end - WEEK * k) for k in range(1, USUAL_WEEKS + 1))
        if usual <= 0:
            return None
        return self.window(end) / usual

    def change(self, end: int, weeks: int, min_accounts: int) -> float | None:
        """The book's user-days in the 7 days ending on `end` over the 7 days `weeks` earlier."""
        before_end = end - WEEK * weeks
        if min(self.active_accounts(end), self.active_accounts(before_end)) < min_accounts:
            return None
        before = self.window(before_end)
        return self.window(end) / before if before > 0 else None

    def quiet_day(self, day: int, min_accounts: int, below: float) -> bool:
        """The book was far below its usual level on `day` (against the same weekday of the
        4 weeks before): a day off for everyone, not one person's silence."""
        same = [self.user_days.get(day - WEEK * k, 0) for k in range(1, USUAL_WEEKS + 1)]
        usual = statistics.median(same)
        if usual <= 0 or max(self.accounts.get(day - WEEK * k, 0) for k in (1, 2)) < min_accounts:
            return False
        return self.user_days.get(day, 0) < below * usual

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "v": 2,
                "u": sorted(self.user_days.items()),
                "a": sorted(self.accounts.items()),
                "p": sorted(self.peers.items()),
                "d": sorted(self.dipped.items()),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> BookActivity:
        if not raw:
            return cls()
        data = json.loads(raw)
        if data.get("v") not in (1, 2):
            raise ValueError(f"book baseline of unknown version {data.get('v')!r}")
        # Version 1 had no peer readings: they fill from the next day on.
        return cls(
            user_days={int(d): int(n) for d, n in data["u"]},
            accounts={int(d): int(n) for d, n in data["a"]},
            peers={int(d): int(n) for d, n in data.get("p", ())},
            dipped={int(d): int(n) for d, n in data.get("d", ())},
        )
