"""Holding events until the event-time clock reaches them.

Each input topic is read at its own pace: in a replay the small ticket topic races weeks
ahead of the large usage topic. Applied as read, an account would see a ticket from week 6
before its usage of week 2, and the core would evaluate week 6 without that usage: false
"usage stopped" and "champion silent" alarms that resolve minutes later. So every event
waits until the partition's watermark (workers/clock.py) has passed it, and an account's
events are applied in event-time order, whatever order the topics were read in. Held events
are stored with the account's state, so a crash loses none of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from events.decode import decode_event
from events.models import AnyInbound

# At equal event times: facts first (they set the owner and seats the rest is judged by), the
# account's facts before its success plan's.
TOPIC_RANK = {
    "account-events": 0,
    "milestone-events": 1,
    "ticket-events": 2,
    "nps-events": 3,
    "usage-events": 4,
    "activity-events": 5,
    # people act on tasks the events above raised: at equal times, after them
    "task-feedback": 6,
}


@dataclass(order=True)
class HeldEvent:
    sort_key: tuple[datetime, int, str]
    model: AnyInbound = field(compare=False)
    topic: str = field(compare=False)
    raw: bytes = field(compare=False)
    produced_at: float | None = field(compare=False, default=None)


def hold(model: AnyInbound, topic: str, raw: bytes, produced_at: float | None) -> HeldEvent:
    return HeldEvent(
        (model.occurred_at, TOPIC_RANK.get(topic, 9), model.event_id),
        model,
        topic,
        raw,
        produced_at,
    )


def release(pending: list[HeldEvent], upto: datetime) -> tuple[list[HeldEvent], list[HeldEvent]]:
    """Split `pending` into the events at or before `upto` (in order) and the rest."""
    ready = sorted(e for e in pending if e.sort_key[0] <= upto)
    if not ready:
        return [], pending
    return ready, [e for e in pending if e.sort_key[0] > upto]


# -- persistence: an account's held events are stored under one key (workers/stream/keys.py) -


def encode_held(events: list[HeldEvent]) -> bytes:
    """[[topic, raw text], ...] as JSON: held events are validated UTF-8 JSON."""
    return json.dumps(
        [[e.topic, e.raw.decode("utf-8")] for e in events], separators=(",", ":")
    ).encode()


def decode_held(value: bytes) -> list[tuple[str, bytes]]:
    return [(topic, text.encode("utf-8")) for topic, text in json.loads(value)]


def rehold(topic: str, raw: bytes) -> HeldEvent:
    """A stored held event back in memory. These bytes were validated before they were held;
    the same rules still apply, so decoding cannot fail on them."""
    return hold(decode_event(topic, raw, 1 << 62), topic, raw, None)
