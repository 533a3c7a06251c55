"""What the labelled book is made of: archetypes and their shares, team sizes, habits, the
calendar of nuisances (holidays, a seasonal dip), and the CSMs.

Every figure lives here so that the book can be re-tuned without touching the story code.
Features, ticket subjects, NPS comments, names and time zones are the demo sample's own
(workers/local/sample/catalogue.py): the two books speak the same product.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from workers.local.sample.catalogue import CSMS as SAMPLE_CSMS

# (archetype, share of the book). `healthy` takes whatever the others leave (~55%).
SHARES: tuple[tuple[str, float], ...] = (
    ("healthy_full", 0.06),  # small, 85-100% of seats in use, never expands
    ("new_customer", 0.06),  # signs within the book; healthy
    ("gradual_churn", 0.08),
    ("sudden_churn", 0.05),
    ("dip_recover", 0.08),
    ("expansion", 0.08),
    ("downgrade", 0.04),
)
ARCHETYPES: tuple[str, ...] = ("healthy", *(name for name, _ in SHARES))
# Archetypes whose accounts are healthy in the evaluator's sense (never churn, never dip).
HEALTHY_KINDS = frozenset({"healthy", "healthy_full", "new_customer"})
CHURN_KINDS = frozenset({"gradual_churn", "sudden_churn"})
# A sudden churner's early warning, cycled so each kind is represented.
WARNINGS: tuple[str, ...] = ("champion_leaves", "escalation", "cliff")

SEGMENT_WEIGHTS: dict[str, int] = {"smb": 50, "mid_market": 35, "enterprise": 15}
# Expansions come from teams of every size, but more often from larger ones.
EXPANSION_SEGMENT_WEIGHTS: dict[str, int] = {"smb": 35, "mid_market": 40, "enterprise": 25}
# Users (people who use the product) per segment: triangular(low, high, mode). Half the book
# is small: 3-20 users, where one absence is 5-30% of the account.
TEAM_SIZE: dict[str, tuple[int, int, int]] = {
    "smb": (3, 21, 6),
    "mid_market": (12, 40, 18),
    "enterprise": (30, 90, 40),
}
# Habit days a week (a user works in the tool on a few fixed weekdays and rarely otherwise):
# steady weekly-active counts, as in real products, so week-over-week drops are stories or
# the nuisances below rather than dice.
HABIT_DAYS: dict[str, tuple[int, ...]] = {
    "smb": (2, 2, 3, 3),
    "mid_market": (1, 2, 2, 3),
    "enterprise": (1, 1, 2, 2),
    "dense": (2, 3, 3, 4),  # near-full and expanding accounts: everyone is in the tool
}
ON_HABIT, OFF_HABIT, WEEKEND = 0.85, 0.06, 0.03
# The champion administers the account: in nearly every workday.
CHAMPION_WEEK = (0.9, 0.9, 0.9, 0.9, 0.9, 0.05, 0.02)
SECOND_EVENT = 0.2  # chance of a second usage event (another feature) on an active day

CSMS: tuple[str, ...] = (*SAMPLE_CSMS, "csm-ines", "csm-jonas")
SEASONAL_SHARE = 0.12  # accounts in education: they dip together (autumn break)
SEASONAL_ABSENT = 0.3  # share of their users away during the seasonal dip

# A Monday; week 20 is the Christmas week. The book lies in the past (it ends on 2026-02-01)
# because the decoder rejects events stamped more than a day ahead of the wall clock.
DEFAULT_START = date(2025, 8, 4)


@dataclass(frozen=True)
class Calendar:
    """Day numbers (0 = the book's first day) of the book-wide nuisances."""

    start: date
    n_days: int
    holiday: range  # every account's usage falls 50-80%
    short_holiday: range  # a two-day holiday: most people off
    seasonal: range  # the education accounts dip ~30%

    @classmethod
    def for_book(cls, start: date, weeks: int) -> Calendar:
        """Week 20 (Christmas when the book starts on 2025-08-04) for the 26-week default;
        proportionally placed in shorter books, so tests see the same nuisances."""
        n_days = weeks * 7
        holiday_week = min(20, max(1, round(weeks * 0.77)))
        holiday = range(holiday_week * 7, min(n_days, holiday_week * 7 + 7))
        short = (holiday_week - 4) * 7 + 3  # Thursday and Friday, four weeks earlier
        seasonal_week = max(1, round(weeks * 0.35))
        return cls(
            start=start,
            n_days=n_days,
            holiday=holiday,
            short_holiday=range(max(0, short), max(0, min(n_days, short + 2))),
            seasonal=range(seasonal_week * 7, min(n_days, (seasonal_week + 4) * 7)),
        )

    def date(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def near_nuisance(self, first: int, last: int, margin: int = 7) -> bool:
        """Whether days [first, last] come within `margin` days of a holiday (a real dip is
        the account's own: it must not be confused with the calendar)."""
        return any(
            first - margin < days.stop and last + margin >= days.start
            for days in (self.holiday, self.short_holiday)
            if days
        )
