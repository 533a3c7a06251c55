"""Run the rules over recorded events offline, with the same core and the same event order
as a live worker: for tuning a rules file before deploying it, and as the reference the
integration tests hold the real worker to."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from config.rules import Rules
from events.models import AnyInbound, HealthScore, PlaybookTask
from workers.core.book import BookActivity
from workers.core.engine import AccountState, advance_to, apply_event, new_state
from workers.stream.holding import hold
from workers.stream.partitioning import partition_for

DEFAULT_PARTITIONS = 8  # the worker's default CS_TOPIC_PARTITIONS


@dataclass
class BacktestResult:
    tasks: list[PlaybookTask] = field(default_factory=list)
    health: list[HealthScore] = field(default_factory=list)
    states: dict[str, AccountState] = field(default_factory=dict)
    duplicates: int = 0


def backtest(
    events: Iterable[tuple[str, AnyInbound]],
    rules: Rules,
    until: datetime | dict[str, datetime] | None = None,
    partitions: int = DEFAULT_PARTITIONS,
    *,
    presorted: bool = False,
    keep_health: bool = True,
) -> BacktestResult:
    """Apply `(topic, event)` pairs in the worker's order (event time, then facts before
    tickets before NPS before usage, then event id), then advance every account to `until`
    (one time for all, or per account) to let time-driven triggers fire.

    `partitions`: the workers' CS_TOPIC_PARTITIONS. Accounts share a book baseline
    (workers/core/book.py) with the accounts of their partition, as in a live worker.
    `presorted`: the events already come in that order (event_file.EventFile.ordered), so
    they are applied as they come, one at a time, instead of being sorted in memory; an
    event out of order raises ValueError. `keep_health`: collect the health messages."""
    result = BacktestResult()
    books = [BookActivity() for _ in range(partitions)]
    held_events = (hold(model, topic, b"", None) for topic, model in events)
    ordered = held_events if presorted else iter(sorted(held_events))
    previous = None
    for held in ordered:
        if presorted:
            if previous is not None and held.sort_key < previous:
                raise ValueError(f"event {held.model.event_id!r} is out of order")
            previous = held.sort_key
        account_id = held.model.account_id
        state = result.states.get(account_id)
        if state is None:
            state = result.states[account_id] = new_state(account_id)
            state.book = books[partition_for(account_id.encode(), partitions)]
        outcome = apply_event(state, held.model, rules)
        if not outcome.applied:
            result.duplicates += 1
        result.tasks.extend(outcome.tasks)
        if keep_health:
            result.health.extend(outcome.health)
    if until is not None:
        for account_id, state in sorted(result.states.items()):
            moment = until.get(account_id) if isinstance(until, dict) else until
            if moment is None:
                continue
            outcome = advance_to(state, moment, rules)
            result.tasks.extend(outcome.tasks)
            if keep_health:
                result.health.extend(outcome.health)
    return result
