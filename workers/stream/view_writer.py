"""Writes the Redis live view after each commit, in commit order, off the batch lock.

The view is derived from the topics, which stay the source of truth: a Redis outage is
retried briefly, then logged and counted, and never stops the stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

import redis.asyncio as aioredis

from workers.stream.ops_metrics import WorkerMetrics
from workers.stream.outputs import BatchOutput
from workers.stream.redis_view import RedisView


class ViewWriter:
    def __init__(
        self, redis_url: str, prefix: str, feed_maxlen: int, metrics: WorkerMetrics, log: Any
    ) -> None:
        self._url = redis_url
        self._prefix = prefix
        self._feed_maxlen = feed_maxlen
        self._metrics = metrics
        self._log = log
        self._view: RedisView | None = None
        self._queue: asyncio.Queue[BatchOutput] = asyncio.Queue()
        self._writer: asyncio.Future[None] | None = None

    @property
    def view(self) -> RedisView:
        if self._view is None:
            client = aioredis.Redis.from_url(self._url)
            self._view = RedisView(client, self._prefix, self._feed_maxlen)
        return self._view

    def submit(self, output: BatchOutput) -> None:
        if not (output.tasks or output.health):
            return
        self._queue.put_nowait(output)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while not self._queue.empty():
            await self._write(self._queue.get_nowait())

    async def _write(self, output: BatchOutput) -> None:
        health = [(score, output.facts.get(score.account_id, {})) for score in output.health]
        for attempt in range(3):
            try:
                await self.view.write(health, (task for task, _ in output.tasks))
                return
            except Exception as exc:
                self._log.warning("redis_write_failed", attempt=attempt + 1, error=str(exc))
                await asyncio.sleep(0.2 * (attempt + 1))
        self._metrics.redis_write_failures += 1
        self._log.error(
            "redis_view_out_of_date", tasks=len(output.tasks), health_scores=len(output.health)
        )
