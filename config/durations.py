"""Durations in the rules file: "30m", "8h", "24h", "7d", "2w"."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
DURATION_HINT = 'a duration like "30m", "8h", "24h", "7d" or "2w"'


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION_RE.match(value) if isinstance(value, str) else None
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(f"{value!r} is not a positive duration; valid: {DURATION_HINT}")
    return timedelta(seconds=float(match.group(1)) * _DURATION_UNITS[match.group(2)])


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
