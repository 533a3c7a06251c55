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
) -> BacktestResult:
    """Apply `(topic, event)` pairs in the worker's order (event time, then facts before
    tickets before NPS before usage, then event id), then advance every account to `until`
    (one time for all, or per account) to let time-driven triggers fire.

    `partitions`: the workers' CS_TOPIC_PARTITIONS. Accounts share a book baseline
    (workers/core/book.py) with the accounts of their partition, as in a live worker."""
    result = BacktestResult()
    books = [BookActivity() for _ in range(partitions)]
    ordered = sorted(hold(model, topic, b"", None) for topic, model in events)
    for held in ordered:
        account_id = held.model.account_id
        state = result.states.get(account_id)
        if state is None:
            state = result.states[account_id] = new_state(account_id)
            state.book = books[partition_for(account_id.encode(), partitions)]
        outcome = apply_event(state, held.model, rules)
        if not outcome.applied:
            result.duplicates += 1
        result.tasks.extend(outcome.tasks)
        result.health.extend(outcome.health)
    if until is not None:
        for account_id, state in sorted(result.states.items()):
            moment = until.get(account_id) if isinstance(until, dict) else until
            if moment is None:
                continue
            outcome = advance_to(state, moment, rules)
            result.tasks.extend(outcome.tasks)
            result.health.extend(outcome.health)
    return result
