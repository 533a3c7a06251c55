"""`cs-signals notify webhook URL`: each task action POSTed to URL, signed.

Request: `POST URL`, body = the task exactly as published on playbook-tasks (JSON), with
- `X-CS-Signals-Timestamp`: Unix seconds when this attempt was signed;
- `X-CS-Signals-Signature`: `v1=` + hex HMAC-SHA256(secret, "{timestamp}.{body}");
- `Idempotency-Key`: `{task_id}:{action}`;
- `X-CS-Signals-Task-Id`, `X-CS-Signals-Action`.
A receiver recomputes the signature over the raw body and rejects stale timestamps (5 min),
exactly as for Stripe's or Slack's webhooks (`verify` below). 2xx is delivered; 429, 408, 5xx
and connection errors are retried with backoff (Retry-After honoured); any other status, or the
retries spent, dead-letters the task.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from workers.delivery.consumer import in_task_order
from workers.delivery.http import check_status, redact_url, request
from workers.delivery.messages import DeadLetter, TaskMessage
from workers.delivery.retry import DeliveryFailed, RetryPolicy, Sleep, with_retries

TIMESTAMP_HEADER = "X-CS-Signals-Timestamp"
SIGNATURE_HEADER = "X-CS-Signals-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SCHEME = "v1"
TOLERANCE_SECONDS = 300


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`v1=<hex HMAC-SHA256 over "{timestamp}.{body}">`."""
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def verify(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """A receiver's check: a fresh timestamp and a matching signature (constant time). The
    header may carry several comma-separated signatures during a secret rotation."""
    if not timestamp or not signature_header:
        return False
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - stamp) > tolerance:
        return False
    expected = signature(secret, stamp, body)
    return any(
        hmac.compare_digest(expected, candidate.strip())
        for candidate in signature_header.split(",")
    )


def signed_headers(
    secret: bytes, body: bytes, task: dict[str, Any], timestamp: int
) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        IDEMPOTENCY_HEADER: f"{task['task_id']}:{task['action']}",
        "X-CS-Signals-Task-Id": str(task["task_id"]),
        "X-CS-Signals-Action": str(task["action"]),
    }


class WebhookSink:
    name = "webhook"

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        secret: bytes,
        policy: RetryPolicy,
        sleep: Sleep,
        log: Any,
        *,
        concurrency: int = 8,
        clock: Callable[[], float] = time.time,
        on_retry: Callable[[Exception, float], None] | None = None,
    ) -> None:
        self.session = session
        self.url = url
        self._secret = secret
        self.policy = policy
        self.sleep = sleep
        self.log = log
        self.concurrency = concurrency
        self.clock = clock
        self.on_retry = on_retry

    async def deliver(self, batch: list[TaskMessage]) -> list[DeadLetter]:
        return await in_task_order(batch, self._one, self.name, self.concurrency)

    async def _one(self, message: TaskMessage) -> None:
        what = f"webhook {redact_url(self.url)} ({message.label})"

        async def attempt() -> None:
            headers = signed_headers(self._secret, message.value, message.task, int(self.clock()))
            response = await request(
                self.session, "POST", self.url, what, data=message.value, headers=headers
            )
            check_status(response, what)

        try:
            await with_retries(attempt, self.policy, self.sleep, self.on_retry)
        except DeliveryFailed as exc:
            exc.destination = redact_url(self.url)
            raise
        self.log.info(
            "webhook_delivered",
            task_id=message.task_id,
            action=message.action,
            account_id=message.task.get("account_id"),
        )
