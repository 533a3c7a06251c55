"""Slack Web API: `chat.postMessage` and `chat.update` as Slack answers them (HTTP 200 with
`ok: false` for errors, 429 + Retry-After when rate limited)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    edits: list[dict[str, Any]] = field(default_factory=list)  # every version after the first


class FakeSlack(FakeServer):
    def __init__(self, token: str = "xoxb-test-token") -> None:
        super().__init__()
        self.token = token
        self.messages: dict[tuple[str, str], Message] = {}
        self.calls: list[dict[str, Any]] = []  # every request: method, channel, status, at
        self.rate_limit: dict[str, int] = {}  # channel -> 429s still to answer
        self.retry_after = "1"
        self.broken: dict[str, int] = {}  # channel -> HTTP status it always answers
        self._ts = itertools.count(1)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/api/chat.postMessage", self._post)
        app.router.add_post("/api/chat.update", self._update)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    def by_channel(self, channel: str) -> list[Message]:
        with self.lock:
            return [m for (c, _), m in self.messages.items() if c == channel]

    def calls_to(self, channel: str, method: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                c
                for c in self.calls
                if c["channel"] == channel and (method is None or c["method"] == method)
            ]

    async def _gate(self, request: web.Request, method: str) -> tuple[dict[str, Any], Any]:
        payload = await request.json()
        channel = str(payload.get("channel"))
        with self.lock:
            call = {"method": method, "channel": channel, "at": time.monotonic(), "status": 200}
            self.calls.append(call)
            if request.headers.get("Authorization") != f"Bearer {self.token}":
                return payload, web.json_response({"ok": False, "error": "invalid_auth"})
            if channel in self.broken:
                call["status"] = self.broken[channel]
                return payload, web.Response(status=self.broken[channel], text="upstream sad")
            if self.rate_limit.get(channel, 0) > 0:
                self.rate_limit[channel] -= 1
                call["status"] = 429
                return payload, web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": self.retry_after},
                )
        blocks = payload.get("blocks") or []
        if len(blocks) > 50 or any(
            b.get("type") == "header" and len(b["text"]["text"]) > 150 for b in blocks
        ):
            return payload, web.json_response({"ok": False, "error": "invalid_blocks"})
        return payload, None

    async def _post(self, request: web.Request) -> web.StreamResponse:
        payload, refused = await self._gate(request, "chat.postMessage")
        if refused is not None:
            return refused
        channel = str(payload["channel"])
        if channel.startswith("C-MISSING"):
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if channel.startswith("U"):  # a user id: Slack opens the DM channel
            channel = "D" + channel[1:]
        ts = f"{int(time.time())}.{next(self._ts):06d}"
        with self.lock:
            self.messages[(channel, ts)] = Message(
                channel, ts, str(payload.get("text")), list(payload.get("blocks") or [])
            )
        return web.json_response({"ok": True, "channel": channel, "ts": ts})

    async def _update(self, request: web.Request) -> web.StreamResponse:
        payload, refused = await self._gate(request, "chat.update")
        if refused is not None:
            return refused
        key = (str(payload.get("channel")), str(payload.get("ts")))
        with self.lock:
            message = self.messages.get(key)
            if message is None:
                return web.json_response({"ok": False, "error": "message_not_found"})
            message.edits.append(
                {"text": payload.get("text"), "blocks": payload.get("blocks"), "at": time.time()}
            )
            message.text = str(payload.get("text"))
            message.blocks = list(payload.get("blocks") or [])
        return web.json_response({"ok": True, "channel": key[0], "ts": key[1]})
