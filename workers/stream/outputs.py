"""What a batch produces, and its publication with no duplicate across retries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from events.models import HealthScore, PlaybookTask
from workers.core.engine import AccountState, Outcome
from workers.stream.csm_load import Touch

# faust's Producer.send(topic, key, value, partition, timestamp, headers) -> delivery future
Send = Callable[..., Awaitable[Awaitable[Any]]]


@dataclass
class BatchOutput:
    """What one batch (or one tick) produced, in publication order."""

    # (identity across retries, key, value)
    dead_letters: list[tuple[bytes, bytes | None, bytes]] = field(default_factory=list)
    reroutes: list[tuple[str, bytes, bytes]] = field(default_factory=list)  # topic, key, value
    health: list[HealthScore] = field(default_factory=list)
    tasks: list[tuple[PlaybookTask, float | None]] = field(default_factory=list)
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # for the Redis view
    touches: list[Touch] = field(default_factory=list)  # CSM touchpoints, for the load view
    # Accounts whose facts an account event set (owner, segment), for the load view.
    books: dict[str, dict[str, Any]] = field(default_factory=dict)
    touched: set[str] = field(default_factory=set)  # accounts whose state may have changed
    partitions: set[int] = field(default_factory=set)  # partitions with pending changes

    def add(self, state: AccountState, outcome: Outcome, produced_at: float | None) -> None:
        if outcome.health or outcome.tasks:
            self.facts[state.account_id] = state.facts
        self.health.extend(outcome.health)
        for task in outcome.tasks:
            self.tasks.append((task, produced_at))


@dataclass
class OutputTopics:
    tasks: str
    health: str
    dead_letters: str


class Publisher:
    """Publishes a batch's outputs and waits for every acknowledgement.

    A failed attempt of a batch may have delivered some messages before failing; the retry
    computes byte-identical messages from the same committed state, and those already
    delivered are skipped, so a retry publishes nothing twice. `batch_committed` forgets them.
    """

    def __init__(self, send: Send, topics: OutputTopics) -> None:
        self._send = send
        self._topics = topics
        self._delivered: set[bytes] = set()

    def batch_committed(self) -> None:
        self._delivered.clear()

    async def publish(self, output: BatchOutput) -> None:
        await (await self.send(output))

    async def send(self, output: BatchOutput) -> Awaitable[None]:
        """Hand the outputs to the producer; return an awaitable that is done when the broker
        acknowledged all of them (and raises if one was not delivered). Await it whatever
        happens next: it records what was delivered, so that a retry sends nothing twice."""
        topics = self._topics
        messages: list[tuple[str, bytes | None, bytes, bytes]] = []
        for identity, key, value in output.dead_letters:
            messages.append((topics.dead_letters, key, value, identity))
        for topic, key, value in output.reroutes:
            messages.append((topic, key, value, topic.encode() + b"\x00" + value))
        for score in output.health:
            value = score.to_json_bytes()
            messages.append((topics.health, score.account_id.encode(), value, value))
        for task, _ in output.tasks:
            value = task.to_json_bytes()
            messages.append((topics.tasks, task.account_id.encode(), value, value))
        pending: list[tuple[bytes, Awaitable[Any]]] = []
        for topic, key, value, identity in messages:
            if identity in self._delivered:
                continue
            pending.append((identity, await self._send(topic, key, value, None, None, None)))
        return self._acknowledged(pending)

    async def _acknowledged(self, pending: list[tuple[bytes, Awaitable[Any]]]) -> None:
        if not pending:
            return
        results = await asyncio.gather(*(f for _, f in pending), return_exceptions=True)
        failed: BaseException | None = None
        for (identity, _), result in zip(pending, results, strict=True):
            if isinstance(result, BaseException):
                failed = result
            else:
                self._delivered.add(identity)
        if failed is not None:
            raise failed
