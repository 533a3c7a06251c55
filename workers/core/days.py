"""Event time as the core counts it: epoch seconds (float) and epoch-day integers.

Cheaper to compare on the hot path than datetimes and trivially serialisable. Days are UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

DAY = 86400
HOUR = 3600


def to_ts(value: datetime) -> float:
    return value.timestamp()


def to_dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
