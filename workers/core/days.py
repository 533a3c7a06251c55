"""Event time as the core counts it: epoch seconds (float) and epoch-day integers.

Cheaper to compare on the hot path than datetimes and trivially serialisable. Days are UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

DAY = 86400
HOUR = 3600

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH_DAYS: dict[str, int] = {}


def to_ts(value: datetime) -> float:
    return value.timestamp()


def to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def epoch_day(iso: str) -> int:
    """The epoch day of an ISO date (`2026-09-01`), memoised (a handful of dates per account)."""
    n = _EPOCH_DAYS.get(iso)
    if n is None:
        if len(_EPOCH_DAYS) > 100_000:
            _EPOCH_DAYS.clear()
        n = _EPOCH_DAYS[iso] = date.fromisoformat(iso).toordinal() - _EPOCH_ORDINAL
    return n


def day_iso(day: int) -> str:
    """The ISO date of an epoch day."""
    return date.fromordinal(day + _EPOCH_ORDINAL).isoformat()
