"""The event-time clock that drives time-driven triggers.

Each table partition has one clock, fed by the four input topics' partitions of the same
number. The clock is a watermark: the *slowest* input that still has a backlog holds it
back, so a replay that reads the small ticket topic ahead of the large usage topic does not
jump time forward and fire false "no usage" alarms. An input that is caught up (nothing left
to read) or has never delivered anything does not hold the clock back, so a quiet topic
cannot stall it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class _InputProgress:
    last_offset: int = -1
    max_event_time: datetime | None = None


@dataclass
class PartitionClocks:
    # (topic, partition) -> progress
    inputs: dict[tuple[str, int], _InputProgress] = field(default_factory=dict)

    def record(self, topic: str, partition: int, offset: int, event_time: datetime) -> None:
        progress = self.inputs.setdefault((topic, partition), _InputProgress())
        progress.last_offset = max(progress.last_offset, offset)
        if progress.max_event_time is None or event_time > progress.max_event_time:
            progress.max_event_time = event_time

    def watermark(
        self, partition: int, highwater: Callable[[str, int], int | None]
    ) -> datetime | None:
        """Event time up to which partition `partition` has seen everything it will see.

        `highwater(topic, partition)` returns the log-end offset, or None when unknown.
        """
        lagging: list[datetime] = []
        everything: list[datetime] = []
        for (topic, part), progress in self.inputs.items():
            if part != partition or progress.max_event_time is None:
                continue
            everything.append(progress.max_event_time)
            end = highwater(topic, part)
            if end is not None and progress.last_offset + 1 < end:
                lagging.append(progress.max_event_time)
        if lagging:
            return min(lagging)
        return max(everything) if everything else None

    def forget(self, partitions: set[tuple[str, int]]) -> None:
        for key in partitions:
            self.inputs.pop(key, None)
