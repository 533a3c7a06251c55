"""The clock that releases held events and drives time-driven triggers, one per partition.

Each partition's clock is fed by the input topics' partitions of the same number. It is a
watermark over event time: an input that still has a backlog (or, for streams of activity,
delivered something in the last `active_seconds`) holds the clock at the newest event time
it has delivered, so a replay that reads the small ticket topic ahead of the large usage
topic cannot jump time forward and raise false "no usage" alarms.

Two refinements (DOMAIN.md, Time):

- **Facts don't hold the clock.** Account facts and success-plan milestones are slowly
  changing facts whose timestamps are often old (a CRM backfill stamps a fact 30 days back).
  They hold the clock only while their input has a real backlog (a replay), never merely for
  having delivered recently; otherwise one fact a second would pin every partition's clock
  30 days in the past. With the lateness off (pure event time) they hold it like any input.
- **Quiet partitions follow the wall clock.** When every input of the partition is caught up
  and quiet, the clock moves to `wall clock - allowed lateness`, so a completed week or a
  silent champion is noticed on time even when nothing arrives. A partition with a backlog
  stays on pure event time, so a replay or a catch-up after an outage raises no false
  "silent" alarm. With the lateness off (None) the clock is pure event time: exactly
  reproducible.

The clock never goes back (`reached`); an event older than the clock is *late*: it is applied
at once (it still counts for every future evaluation) and counted in ops-metrics.

"Backlog" is read from the log-end offset, which some brokers understate (Tansu, see
broker_quirks.py); the recency rule covers that, since an input that is still delivering is
not quiet.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_ACTIVE_SECONDS = 2.0
# Inputs whose event times are validity times of slowly changing facts.
FACT_TOPICS = frozenset({"account-events", "milestone-events"})

Highwater = Callable[[str, int], int | None]


@dataclass
class InputProgress:
    last_offset: int = -1
    max_event_time: float | None = None  # epoch seconds
    last_delivery: float = 0.0  # monotonic seconds; 0 = not since this worker started
    is_fact: bool = False


@dataclass
class PartitionClock:
    """The clock of one partition: its inputs' progress and the time it has reached."""

    inputs: dict[str, InputProgress] = field(default_factory=dict)  # topic -> progress
    reached: float | None = None

    def record(
        self, topic: str, offset: int, event_time: float | None, is_fact: bool, now: float
    ) -> None:
        progress = self.inputs.get(topic)
        if progress is None:
            progress = self.inputs[topic] = InputProgress(is_fact=is_fact)
        if offset > progress.last_offset:
            progress.last_offset = offset
        if not is_fact:
            progress.last_delivery = now
        if event_time is not None and (
            progress.max_event_time is None or event_time > progress.max_event_time
        ):
            progress.max_event_time = event_time

    def _behind(self, topic: str, progress: InputProgress, end: int | None) -> bool:
        return end is not None and progress.last_offset + 1 < end

    def compute(
        self,
        partition: int,
        highwater: Highwater,
        *,
        wall: float | None,
        lateness: float | None,
        active_seconds: float = DEFAULT_ACTIVE_SECONDS,
        now: float | None = None,
    ) -> float | None:
        """Advance and return the clock (epoch seconds), or None while nothing is known."""
        now = time.monotonic() if now is None else now
        holding: list[float] = []
        known: list[float] = []
        blind = False  # an input with a backlog whose event times we have not seen yet
        quiet = True
        for topic, progress in self.inputs.items():
            end = highwater(topic, partition)
            behind = self._behind(topic, progress, end)
            recent = now - progress.last_delivery < active_seconds
            if behind or recent:
                quiet = False
            if progress.max_event_time is None:
                blind = blind or behind
                continue
            known.append(progress.max_event_time)
            # A fact that is still arriving holds the clock only in pure event time (lateness
            # off: a replay must apply it where its time falls, as backtest does).
            if behind or (recent and (not progress.is_fact or lateness is None)):
                holding.append(progress.max_event_time)
        if blind:
            candidate = None
        elif holding:
            candidate = min(holding)
        else:
            candidate = max(known) if known else None
        if quiet and lateness is not None and wall is not None:
            floor = wall - lateness
            candidate = floor if candidate is None else max(candidate, floor)
        if candidate is not None and (self.reached is None or candidate > self.reached):
            self.reached = candidate
        return self.reached

    # -- persistence (stored with the partition's state, so a restored partition's clock
    # starts where the last committed batch left it and can release restored held events) --

    def to_bytes(self) -> bytes:
        body = {
            "inputs": {t: [p.last_offset, p.max_event_time] for t, p in self.inputs.items()},
            "reached": self.reached,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | None) -> PartitionClock:
        clock = cls()
        if not raw:
            return clock
        body = json.loads(raw)
        for topic, (offset, max_time) in body.get("inputs", {}).items():
            clock.inputs[topic] = InputProgress(
                last_offset=int(offset), max_event_time=max_time, is_fact=topic in FACT_TOPICS
            )
        clock.reached = body.get("reached")
        return clock


def as_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)
