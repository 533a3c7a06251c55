"""What a failed delivery attempt means, and how long to wait before the next one.

An attempt ends in one of:
- success;
- `RateLimited` (HTTP 429 or the API's own "slow down"): wait `Retry-After` when the endpoint
  said so (capped), else the backoff; these have their own, larger budget because the endpoint
  is fine and asked us to come back later;
- `Retryable` (5xx, timeouts, connection errors): exponential backoff with jitter, at most
  `max_attempts` attempts in all;
- `DeliveryFailed` (a 4xx, a refused destination, or the budget spent): the task goes to
  `notify-dead-letters` with the reason;
- `Fatal` (the endpoint refused our credentials): the process stops without committing, since
  every other task would fail the same way.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class DeliveryError(Exception):
    """Base of the outcomes below; str() is the reason, in words an operator can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Retryable(DeliveryError):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class RateLimited(Retryable):
    pass


class DeliveryFailed(DeliveryError):
    """Permanent for this task: dead-letter it."""

    def __init__(
        self,
        reason: str,
        attempts: int = 1,
        destination: str | None = None,
        exhausted: bool = False,
    ) -> None:
        super().__init__(reason)
        self.attempts = attempts
        self.destination = destination
        self.exhausted = exhausted  # the retry budget was spent (not a refusal)


class Fatal(DeliveryError):
    """Permanent for every task (credentials refused): stop without committing."""


class Stopping(Exception):
    """The process is shutting down: abandon the attempt, commit nothing for it."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    initial_seconds: float = 1.0
    max_seconds: float = 60.0
    multiplier: float = 2.0
    jitter: float = 0.2  # each backoff is shortened by up to this fraction, at random
    max_rate_limited: int = 50
    max_retry_after_seconds: float = 300.0

    def backoff(self, failures: int, rng: random.Random | None = None) -> float:
        """The wait after the `failures`-th failure in a row (1, 2, ...)."""
        base = min(self.max_seconds, self.initial_seconds * self.multiplier ** max(0, failures - 1))
        spread = (rng or random).random() * self.jitter
        return base * (1.0 - spread)

    def wait_after(
        self, error: Retryable, failures: int, rng: random.Random | None = None
    ) -> float:
        if error.retry_after is not None:
            return max(0.0, min(error.retry_after, self.max_retry_after_seconds))
        return self.backoff(failures, rng)


Sleep = Callable[[float], Awaitable[None]]


class Sleeper:
    """Sleeps that end early, with `Stopping`, when the process is asked to stop."""

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop

    async def __call__(self, seconds: float) -> None:
        if self.stop.is_set():
            raise Stopping
        try:
            await asyncio.wait_for(self.stop.wait(), timeout=max(0.0, seconds))
        except TimeoutError:
            return
        raise Stopping


async def with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    sleep: Sleep,
    on_retry: Callable[[DeliveryError, float], None] | None = None,
) -> T:
    """Run `attempt` until it succeeds; raise DeliveryFailed once the budget is spent."""
    failures = limited = 0
    while True:
        try:
            return await attempt()
        except DeliveryFailed as exc:
            exc.attempts = failures + limited + 1
            raise
        except RateLimited as exc:
            limited += 1
            if limited >= policy.max_rate_limited:
                raise DeliveryFailed(
                    f"{exc.reason}; still rate limited after {limited} attempts",
                    attempts=failures + limited,
                    exhausted=True,
                ) from exc
            error: DeliveryError = exc
            wait = policy.wait_after(exc, limited)
        except Retryable as exc:
            failures += 1
            if failures >= policy.max_attempts:
                raise DeliveryFailed(
                    f"{exc.reason}; gave up after {failures} attempts",
                    attempts=failures + limited,
                    exhausted=True,
                ) from exc
            error = exc
            wait = policy.wait_after(exc, failures)
        if on_retry is not None:
            on_retry(error, wait)
        await sleep(wait)
