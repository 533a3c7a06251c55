"""The event-time clock that drives time-driven triggers.

Each table partition has one clock, fed by the four input topics' partitions of the same
number. The clock is a watermark: the *slowest* input that still has a backlog holds it
back, so a replay that reads the small ticket topic ahead of the large usage topic does not
jump time forward and fire false "no usage" alarms. An input that is caught up (nothing left
to read) or has never delivered anything does not hold the clock back, so a quiet topic
cannot stall it.

"Still has a backlog" is read from the log-end offset when the broker reports it truly, and
also from recency: an input that delivered a record in the last `active_seconds` (wall time)
holds the clock too. The second rule covers brokers whose end offsets lag (Tansu, see
broker_quirks.py); in live operation it only means that the clock follows the slowest
*active* input, which is what a watermark should do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_ACTIVE_SECONDS = 2.0


@dataclass
class _InputProgress:
    last_offset: int = -1
    max_event_time: datetime | None = None
    last_delivery: float = 0.0  # monotonic seconds


@dataclass
class PartitionClocks:
    # (topic, partition) -> progress
    inputs: dict[tuple[str, int], _InputProgress] = field(default_factory=dict)

    active_seconds: float = DEFAULT_ACTIVE_SECONDS

    def record(
        self,
        topic: str,
        partition: int,
        offset: int,
        event_time: datetime,
        now: float | None = None,
    ) -> None:
        progress = self.inputs.setdefault((topic, partition), _InputProgress())
        progress.last_offset = max(progress.last_offset, offset)
        progress.last_delivery = time.monotonic() if now is None else now
        if progress.max_event_time is None or event_time > progress.max_event_time:
            progress.max_event_time = event_time

    def consumed(self, topic: str, partition: int, offset: int, now: float | None = None) -> None:
        """A message that carries no usable event time (a dead letter, a re-routed event)
        still counts as read: otherwise its input would look behind for ever."""
        progress = self.inputs.setdefault((topic, partition), _InputProgress())
        progress.last_offset = max(progress.last_offset, offset)
        progress.last_delivery = time.monotonic() if now is None else now

    def watermark(
        self,
        partition: int,
        highwater: Callable[[str, int], int | None],
        now: float | None = None,
    ) -> datetime | None:
        """Event time up to which partition `partition` has seen everything it will see.

        `highwater(topic, partition)` returns the log-end offset, or None when unknown.
        """
        now = time.monotonic() if now is None else now
        lagging: list[datetime] = []
        everything: list[datetime] = []
        for (topic, part), progress in self.inputs.items():
            if part != partition or progress.max_event_time is None:
                continue
            everything.append(progress.max_event_time)
            end = highwater(topic, part)
            behind = end is not None and progress.last_offset + 1 < end
            if behind or now - progress.last_delivery < self.active_seconds:
                lagging.append(progress.max_event_time)
        if lagging:
            return min(lagging)
        return max(everything) if everything else None

    def forget(self, partitions: set[tuple[str, int]]) -> None:
        for key in partitions:
            self.inputs.pop(key, None)
