"""The book's calendar: days, holidays, weekly rhythms and times of day."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

# A Monday at the start of the northern summer: with 30 weeks the book holds a summer (the
# seasonal slump), two public holidays and the two-week year-end break, with weeks after it.
DEFAULT_START = date(2025, 6, 30)

# Weekly rhythms: activity multipliers Monday..Sunday.
RHYTHMS: dict[str, tuple[float, ...]] = {
    "weekdays": (1.0, 1.0, 1.0, 0.95, 0.8, 0.04, 0.02),
    "monday_peak": (1.55, 1.0, 0.9, 0.8, 0.55, 0.03, 0.02),
    "six_day": (1.0, 1.0, 1.0, 1.0, 0.95, 0.8, 0.05),
    "midweek": (0.75, 1.15, 1.2, 1.1, 0.6, 0.02, 0.02),
}
RHYTHM_WEIGHTS = {"weekdays": 0.45, "monday_peak": 0.25, "six_day": 0.15, "midweek": 0.15}

# Regions: the hours (UTC) people work in, and whose public holidays they keep.
REGION_HOURS: dict[str, tuple[int, int]] = {"us": (13, 23), "eu": (7, 17), "apac": (0, 9)}
REGION_WEIGHTS = {"us": 0.6, "eu": 0.3, "apac": 0.1}


@dataclass(frozen=True)
class Calendar:
    start: date
    weeks: int

    @property
    def days(self) -> int:
        return self.weeks * 7

    @property
    def end(self) -> date:
        """The first day after the book."""
        return self.start + timedelta(days=self.days)

    def day(self, index: int) -> date:
        return self.start + timedelta(days=index)

    def index(self, when: date) -> int:
        return (when - self.start).days

    def year_end_break(self) -> range:
        """The two-week year-end break (day indexes; empty when the book has none): the 14
        days from the Monday of the week holding 22 December."""
        for year in range(self.start.year, self.end.year + 1):
            dec22 = date(year, 12, 22)
            monday = dec22 - timedelta(days=dec22.weekday())
            first = self.index(monday)
            if first + 14 > 0 and first < self.days:
                return range(max(first, 0), min(first + 14, self.days))
        return range(0)

    def public_holidays(self) -> dict[int, tuple[frozenset[str], float]]:
        """Day index -> (regions keeping it, activity multiplier that day)."""
        out: dict[int, tuple[frozenset[str], float]] = {}
        for year in range(self.start.year, self.end.year + 1):
            candidates = [
                (date(year, 7, 4), frozenset({"us"}), 0.12),
                (_nth_weekday(year, 9, 0, 1), frozenset({"us"}), 0.1),  # Labor Day
                (_nth_weekday(year, 11, 3, 4), frozenset({"us"}), 0.12),  # Thanksgiving
                (_nth_weekday(year, 11, 3, 4) + timedelta(days=1), frozenset({"us"}), 0.45),
                (date(year, 10, 3), frozenset({"eu"}), 0.4),
                (date(year, 8, 15), frozenset({"eu"}), 0.5),
            ]
            for when, regions, factor in candidates:
                index = self.index(when)
                if 0 <= index < self.days:
                    out[index] = (regions, factor)
        return out

    def summer(self) -> range:
        """Day indexes from 7 July to 14 September of the book's first summer (or empty)."""
        for year in range(self.start.year, self.end.year + 1):
            first = self.index(date(year, 7, 7))
            last = self.index(date(year, 9, 14))
            if last > 0 and first < self.days:
                return range(max(first, 0), min(last, self.days))
        return range(0)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def stamp(day: date, seconds: int) -> str:
    """RFC 3339 UTC timestamp `seconds` after the day's midnight (0 <= seconds < 86400)."""
    hours, rest = divmod(seconds, 3600)
    return f"{day.isoformat()}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}Z"


def work_seconds(rng: random.Random, region: str) -> int:
    """A moment of the working day in the region (seconds after midnight UTC)."""
    first, last = REGION_HOURS[region]
    # Busier mid-morning and early afternoon: the mean of two uniforms.
    hour = (rng.uniform(first, last) + rng.uniform(first, last)) / 2
    return min(int(hour * 3600), 86_399)
