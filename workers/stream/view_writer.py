"""Writes the Redis live view after each commit, in commit order, off the batch lock — and
repairs it.

The view is derived from the topics and from state the worker owns, which stay the source of
truth: a Redis outage is retried briefly, then logged and counted, and never stops the stream.
Repairs re-write every owned account's health and open tasks from the worker's view records
(view_state.py):

- when Redis comes back without the view's sentinel key (it restarted empty), or after writes
  were given up during an outage — checked every `check_seconds`;
- and as a periodic sweep every `sweep_seconds`, which also drops open tasks of owned accounts
  that the records say are no longer open (a missed delete).

A repair runs in the same queue as the batches' writes, reading the store when its turn comes,
so an older batch's write can never land after (and undo) a repair.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from workers.stream.ops_metrics import WorkerMetrics
from workers.stream.outputs import BatchOutput
from workers.stream.redis_view import RedisView
from workers.stream.view_state import decode_record

_CHUNK = 500

# Yields (account_id, record bytes) of every account the worker owns, from its stores.
Records = Callable[[], Iterator[tuple[str, bytes]]]


@dataclass
class _Repair:
    reason: str
    drop_stale: bool


class ViewWriter:
    def __init__(
        self,
        redis_url: str,
        prefix: str,
        feed_maxlen: int,
        metrics: WorkerMetrics,
        log: Any,
        records: Records,
        owns: Callable[[str], bool],
        worker_id: str,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        self._url = redis_url
        self._redis_options = dict(redis_options or {})  # TLS files (config.security)
        self._prefix = prefix
        self._feed_maxlen = feed_maxlen
        self._metrics = metrics
        self._log = log
        self._records = records
        self._owns = owns
        # One sentinel per worker: each repairs its own accounts after Redis lost the view.
        self._sentinel = f"sentinel:{worker_id}"
        self._view: RedisView | None = None
        self._queue: asyncio.Queue[BatchOutput | _Repair] = asyncio.Queue()
        self._writer: asyncio.Future[None] | None = None
        self._dirty = False  # a write was given up: the view missed something
        self.repairs = 0  # accounts re-written by repairs
        self.last_repair: float | None = None  # wall time
        self.last_repair_reason: str | None = None

    @property
    def view(self) -> RedisView:
        if self._view is None:
            client = aioredis.Redis.from_url(self._url, **self._redis_options)
            self._view = RedisView(client, self._prefix, self._feed_maxlen)
        return self._view

    def submit(self, output: BatchOutput) -> None:
        if output.tasks or output.health or output.touches or output.books:
            self._enqueue(output)

    def _enqueue(self, job: BatchOutput | _Repair) -> None:
        self._queue.put_nowait(job)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        while not self._queue.empty():
            job = self._queue.get_nowait()
            if isinstance(job, _Repair):
                await self._repair(job)
            else:
                await self._write(job)

    async def _write(self, output: BatchOutput) -> None:
        health = [(score, output.facts.get(score.account_id, {})) for score in output.health]
        for attempt in range(3):
            try:
                await self.view.write(
                    health, [task for task, _ in output.tasks], output.touches, output.books
                )
                return
            except Exception as exc:
                self._log.warning("redis_write_failed", attempt=attempt + 1, error=str(exc))
                await asyncio.sleep(0.2 * (attempt + 1))
        self._dirty = True
        self._metrics.redis_write_failures += 1
        self._log.error(
            "redis_view_out_of_date",
            tasks=len(output.tasks),
            health_scores=len(output.health),
            repair="when Redis answers again",
        )

    # -- repairs ---------------------------------------------------------------------------

    async def check(self) -> None:
        """Called every few seconds: schedule a repair when Redis lost the view or missed
        writes. A Redis that does not answer is left alone until it does."""
        try:
            missing = not await self.view.mark_alive(self._sentinel)
        except Exception as exc:
            self._log.debug("redis_check_failed", error=str(exc))
            return
        if missing or self._dirty:
            self._dirty = False
            reason = "redis lost the view" if missing else "writes were missed"
            self._enqueue(_Repair(reason, drop_stale=not missing))

    def sweep(self) -> None:
        self._enqueue(_Repair("periodic sweep", drop_stale=True))

    async def _repair(self, job: _Repair) -> None:
        began = time.monotonic()
        written = 0
        try:
            chunk: list[tuple[str, dict[str, Any]]] = []
            open_ids: set[str] = set()
            for account_id, raw in self._records():
                record = decode_record(raw)
                open_ids.update(record.get("t") or {})
                chunk.append((account_id, record))
                if len(chunk) >= _CHUNK:
                    written += await self.view.restore(chunk)
                    chunk = []
            written += await self.view.restore(chunk)
            dropped = 0
            if job.drop_stale:
                stale = [
                    task_id
                    for task_id, account in (await self.view.open_task_accounts()).items()
                    if task_id not in open_ids and self._owns(account)
                ]
                await self.view.drop_open_tasks(stale)
                dropped = len(stale)
        except Exception as exc:
            self._dirty = True  # try again at the next check
            self._log.warning("redis_view_repair_failed", reason=job.reason, error=str(exc))
            return
        self.repairs += written
        self.last_repair = time.time()
        self.last_repair_reason = job.reason
        self._log.info(
            "redis_view_repaired",
            reason=job.reason,
            accounts=written,
            stale_open_tasks_dropped=dropped,
            seconds=round(time.monotonic() - began, 3),
        )
