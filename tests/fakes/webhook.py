"""A webhook receiver that records every request; per task it can answer 429s first, or
always fail with a given status."""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer


class FakeReceiver(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []  # every request, answered or not
        self.rate_limit: dict[str, int] = {}  # task_id -> 429s still to answer
        self.retry_after = "1"
        self.fail: dict[str, int] = {}  # task_id -> status it always gets

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/hooks/tasks", self._receive)

    @property
    def hook_url(self) -> str:
        return f"{self.url}/hooks/tasks?token=do-not-log-me"

    def accepted(self, task_id: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r["status"] == 200 and (task_id is None or r["task"]["task_id"] == task_id)
            ]

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        task = json.loads(body)
        entry = {
            "at": time.time(),
            "body": body,
            "headers": dict(request.headers),
            "task": task,
            "status": 200,
        }
        task_id = task["task_id"]
        with self.lock:
            self.requests.append(entry)
            if task_id in self.fail:
                entry["status"] = self.fail[task_id]
                return web.Response(status=entry["status"], text="no thanks")
            if self.rate_limit.get(task_id, 0) > 0:
                self.rate_limit[task_id] -= 1
                entry["status"] = 429
                return web.Response(status=429, headers={"Retry-After": self.retry_after})
        return web.Response(status=200, text="ok")
