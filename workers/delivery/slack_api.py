"""The two Slack Web API methods we use, over aiohttp: `chat.postMessage` and `chat.update`.

Slack answers HTTP 200 with `{"ok": false, "error": ...}` for most errors, 429 with
`Retry-After` when rate limited, and sometimes 5xx. Each call waits its turn per channel
(`SLACK_CHANNEL_INTERVAL_SECONDS`, Slack's "about one message per second per channel"), and is
retried per retry.py. The token goes in the Authorization header only; it is never logged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from workers.delivery.http import check_status, request
from workers.delivery.retry import (
    DeliveryFailed,
    Fatal,
    RateLimited,
    Retryable,
    RetryPolicy,
    Sleep,
    with_retries,
)

# Errors that mean our token or its scopes are wrong: every message would fail the same way.
AUTH_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
    }
)
RETRY_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout", "team_added_to_org"}
)
# chat.update cannot edit this message any more: post a new one instead.
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


class MessageGone(DeliveryFailed):
    """chat.update cannot edit that message (deleted, too old): post a new one."""


@dataclass(frozen=True)
class Posted:
    channel: str  # the channel id Slack answered with (a user id becomes a DM channel id)
    ts: str


class ChannelPacer:
    """At least `interval` seconds between two calls to one channel."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._next: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def turn(self, channel: str, sleep: Sleep) -> None:
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            wait = self._next.get(channel, 0.0) - self.clock()
            if wait > 0:
                await sleep(wait)
            self._next[channel] = self.clock() + self.interval


class SlackApi:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        token: str,
        policy: RetryPolicy,
        sleep: Sleep,
        pacer: ChannelPacer,
        on_retry: Callable[[Exception, float], None] | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self._headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json; charset=utf-8",
        }
        self.policy = policy
        self.sleep = sleep
        self.pacer = pacer
        self.on_retry = on_retry

    async def post_message(self, channel: str, text: str, blocks: list[dict[str, Any]]) -> Posted:
        payload = {"channel": channel, "text": text, "blocks": blocks, "unfurl_links": False}
        answer = await self._call("chat.postMessage", channel, payload)
        ts = answer.get("ts")
        if not ts:
            raise DeliveryFailed(f"Slack chat.postMessage to {channel}: answer without ts")
        return Posted(str(answer.get("channel") or channel), str(ts))

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Edit message `ts`; MessageGone when Slack can no longer edit it."""
        payload = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
        await self._call("chat.update", channel, payload)

    async def _call(self, method: str, channel: str, payload: dict[str, Any]) -> dict[str, Any]:
        what = f"Slack {method} to {channel}"

        async def attempt() -> dict[str, Any]:
            await self.pacer.turn(channel, self.sleep)
            response = await request(
                self.session,
                "POST",
                f"{self.base_url}/{method}",
                what,
                json=payload,
                headers=self._headers,
            )
            check_status(response, what, fatal=(401, 403))
            try:
                answer = response.json()
            except ValueError:
                raise Retryable(f"{what}: answer is not JSON: {response.snippet()}") from None
            if not isinstance(answer, dict):
                raise Retryable(f"{what}: answer is not a JSON object")
            if answer.get("ok"):
                return answer
            error = str(answer.get("error") or "unknown_error")
            if error == "ratelimited":
                raise RateLimited(f"{what}: {error}", response.retry_after)
            if error in AUTH_ERRORS:
                raise Fatal(f"{what}: Slack refused the token: {error}")
            if method == "chat.update" and error in GONE_ERRORS:
                raise MessageGone(f"{what}: {error}")
            if error in RETRY_ERRORS:
                raise Retryable(f"{what}: {error}")
            raise DeliveryFailed(f"{what}: {error}")

        try:
            return await with_retries(attempt, self.policy, self.sleep, self.on_retry)
        except DeliveryFailed as exc:
            exc.destination = channel
            raise
