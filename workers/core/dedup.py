"""Remembered event ids: a redelivered event is folded once, in memory bounded by event time
and by count.

Ids are kept as 8-byte BLAKE2b digests with the event-time hour of their event, in two rings:
- usage events: a short window (default 2 days of event time) and `max_event_ids`. Usage is
  idempotent for everything but volume: a user's day and a feature's day are set once however
  often they are folded, so a redelivery that fell out of the ring can only count its
  `quantity` into the day's volume a second time.
- everything else (tickets, NPS, account facts): low volume and not idempotent (an NPS
  response would be listed twice and could reopen a task; an old fact would overwrite a newer
  one), so kept longer (default 180 days, as long as an NPS response counts;
  `max_other_event_ids`).
A lookup checks both rings (an id migrated from the single ring of version 1 may be in
either). Each ring is trimmed to its count in arrival order, up to a quarter over the bound at a
time (evicting from the front of a dict one key at a time is slow); the time window is applied
when the account is pruned, once per event-time day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import blake2b

from .days import HOUR


def event_digest(event_id: str) -> bytes:
    return blake2b(event_id.encode("utf-8"), digest_size=8).digest()


@dataclass
class SeenIds:
    usage: dict[bytes, int] = field(default_factory=dict)  # digest -> event hour, arrival order
    other: dict[bytes, int] = field(default_factory=dict)

    def __contains__(self, event_id: str) -> bool:
        key = event_digest(event_id)
        return key in self.usage or key in self.other


def remember(seen: SeenIds, event_id: str, ts: float, is_usage: bool, max_ids: int) -> bool:
    """Record the id; False when it was already seen (a redelivery)."""
    key = event_digest(event_id)
    if key in seen.usage or key in seen.other:
        return False
    ring = seen.usage if is_usage else seen.other
    ring[key] = int(ts // HOUR)
    if len(ring) > max_ids + (max_ids >> 2):
        keep = list(ring.items())[-max_ids:]
        ring.clear()
        ring.update(keep)
    return True


def forget_before(ring: dict[bytes, int], ts: float) -> None:
    """Drop the ids of events older than `ts` (by whole hours of event time)."""
    cutoff = int(ts // HOUR)
    if any(hour < cutoff for hour in ring.values()):
        keep = [(k, h) for k, h in ring.items() if h >= cutoff]
        ring.clear()
        ring.update(keep)
