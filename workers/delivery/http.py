"""HTTP calls as delivery attempts: transport errors and status codes mapped onto retry.py's
outcomes, and `Retry-After` (seconds or an HTTP date) honoured."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from workers.delivery.retry import DeliveryFailed, Fatal, RateLimited, Retryable

_SNIPPET = 300


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        import json

        return json.loads(self.body) if self.body else None

    def snippet(self) -> str:
        text = self.body.decode("utf-8", "replace").strip().replace("\n", " ")
        return text[:_SNIPPET] + ("…" if len(text) > _SNIPPET else "")

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("retry-after"))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    what: str,
    **kwargs: Any,
) -> Response:
    """One attempt; transport failures become Retryable. The caller judges the status."""
    try:
        async with session.request(method, url, **kwargs) as resp:
            body = await resp.read()
            return Response(resp.status, {k.lower(): v for k, v in resp.headers.items()}, body)
    except TimeoutError:
        raise Retryable(f"{what}: timed out") from None
    except aiohttp.ClientError as exc:
        # Some aiohttp errors quote the URL, whose query may hold a token.
        detail = str(exc).replace(url, redact_url(url))
        raise Retryable(f"{what}: {type(exc).__name__}: {detail}") from None


def check_status(response: Response, what: str, fatal: tuple[int, ...] = ()) -> Response:
    """2xx passes; 429 is RateLimited; 408 and 5xx Retryable; statuses in `fatal` (credentials
    refused) Fatal; any other status DeliveryFailed."""
    status = response.status
    if 200 <= status < 300:
        return response
    reason = f"{what}: HTTP {status}"
    detail = response.snippet()
    if detail:
        reason += f" {detail}"
    if status == 429:
        raise RateLimited(reason, response.retry_after)
    if status == 408 or status >= 500:
        raise Retryable(reason, response.retry_after)
    if status in fatal:
        raise Fatal(reason)
    raise DeliveryFailed(reason)


def redact_url(url: str) -> str:
    """The URL for logs and dead letters: no credentials, query or fragment (they may hold
    tokens)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))
