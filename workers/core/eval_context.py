"""What every trigger check reads: one evaluation of one account."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from config.rules import CompiledRules, Rules
from events.models import AnyInbound

from .engagement import EngagementView
from .fold import AccountChange, TicketChange
from .state import AccountState


@dataclass
class EvalContext:
    state: AccountState
    now: float
    rules: Rules  # resolved for the account's segment
    compiled: CompiledRules
    metrics: dict[str, Any]
    health: dict[str, Any] | None  # {"score", "band"} now
    previous_health: dict[str, Any] | None = None  # last published before this evaluation
    event: AnyInbound | None = None
    ticket: TicketChange | None = None
    account: AccountChange | None = None
    renewal_moved: tuple[str | None, str | None] | None = None
    changed: bool = False  # a check changed task state without a message (ok_since)
    engagement: EngagementView | None = None
