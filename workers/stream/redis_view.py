"""The live view in Redis: latest health per account, a ranking, open tasks, per-CSM feeds.

Key layout (prefix defaults to `cs:<CS_APP_ID>:`), documented in the README:
- `<p>health:<account_id>`  hash: score, band, previous_score, computed_at, components (JSON),
                            components_missing (JSON), name, segment, csm_id, arr
- `<p>health:ranking`       sorted set: account_id scored by health (lowest = most at risk)
- `<p>tasks:open`           hash: task_id -> latest PlaybookTask JSON while the task is open
- `<p>feed:<csm_id>`        stream: one entry per task action for that CSM's accounts
                            (`feed:_unassigned` when the account has no CSM yet)
- `<p>workers:<worker_id>`  hash: the worker's latest ops-metrics snapshot (JSON), 2-minute TTL
- `<p>csm:...`              the CSM load view (csm_load.py)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import redis.asyncio as aioredis

from events.models import HealthScore, PlaybookTask
from workers.stream.csm_load import MOVE_SCRIPT, LoadKeys, Touch, add_load, move_account, move_task

UNASSIGNED_FEED = "_unassigned"


def health_fields(score: HealthScore, facts: dict[str, Any]) -> dict[str, Any]:
    return {
        "score": score.score,
        "band": score.band,
        "previous_score": "" if score.previous_score is None else score.previous_score,
        "computed_at": score.computed_at.isoformat(),
        "components": json.dumps({k: v.model_dump() for k, v in score.components.items()}),
        "components_missing": json.dumps(score.components_missing),
        "name": facts.get("name") or "",
        "segment": facts.get("segment") or "",
        "csm_id": facts.get("csm_id") or "",
        "arr": "" if facts.get("arr") is None else facts["arr"],
    }


class RedisView:
    def __init__(self, client: aioredis.Redis, prefix: str, feed_maxlen: int = 10_000) -> None:
        self.client = client
        self.prefix = prefix
        self.feed_maxlen = feed_maxlen
        self.load_keys = LoadKeys(prefix)
        self._move = client.register_script(MOVE_SCRIPT)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def write(
        self,
        health: Iterable[tuple[HealthScore, dict[str, Any]]],
        tasks: Iterable[PlaybookTask],
        touches: Iterable[Touch] = (),
        books: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Apply one batch's outputs in a single round trip (a non-transactional pipeline).

        `touches` and `books` (accounts whose facts changed) feed the CSM load view."""
        pipe = self.client.pipeline(transaction=False)
        ranking: dict[str, float] = {}
        health = list(health)
        tasks = list(tasks)
        owners = dict(books or {})
        owners.update((score.account_id, facts) for score, facts in health)
        await add_load(pipe, self._move, self.load_keys, touches, tasks, sorted(owners.items()))
        for score, facts in health:
            pipe.hset(self.key("health", score.account_id), mapping=health_fields(score, facts))
            ranking[score.account_id] = score.score
        if ranking:
            pipe.zadd(self.key("health", "ranking"), ranking)
        for task in tasks:
            body = task.model_dump_json()
            if task.action == "resolved":
                pipe.hdel(self.key("tasks", "open"), task.task_id)
            else:
                pipe.hset(self.key("tasks", "open"), task.task_id, body)
            pipe.xadd(
                self.key("feed", task.owner_id or UNASSIGNED_FEED),
                {
                    "task_id": task.task_id,
                    "action": task.action,
                    "account_id": task.account_id,
                    "playbook": task.playbook,
                    "priority": task.priority,
                    "due_at": task.due_at.isoformat(),
                    "reason": task.reason,
                    "task": body,
                },
                maxlen=self.feed_maxlen,
                approximate=True,
            )
        if len(pipe):
            await pipe.execute()

    async def restore(self, records: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Re-write accounts' health and open tasks from the worker's own view records
        (workers/stream/view_state.py): the repair after Redis lost data or missed writes.
        Returns the number of accounts written."""
        pipe = self.client.pipeline(transaction=False)
        ranking: dict[str, float] = {}
        count = 0
        for account_id, record in records:
            count += 1
            fields = record.get("h")
            if fields:
                pipe.hset(self.key("health", account_id), mapping=fields)
                ranking[account_id] = float(fields["score"])
                await move_account(pipe, self._move, self.load_keys, account_id, fields)
            for task_id, body in (record.get("t") or {}).items():
                pipe.hset(self.key("tasks", "open"), task_id, body)
                owner = _owner_of(body)
                await move_task(pipe, self._move, self.load_keys, task_id, owner, True)
        if ranking:
            pipe.zadd(self.key("health", "ranking"), ranking)
        if len(pipe):
            await pipe.execute()
        return count

    async def open_task_accounts(self) -> dict[str, str]:
        """task_id -> account_id of every task in the open-tasks hash."""
        out: dict[str, str] = {}
        async for task_id, body in self.client.hscan_iter(self.key("tasks", "open"), count=1000):
            try:
                account = json.loads(body)["account_id"]
            except (ValueError, KeyError, TypeError):
                account = ""
            out[task_id.decode() if isinstance(task_id, bytes) else task_id] = account
        return out

    async def drop_open_tasks(self, task_ids: Iterable[str]) -> None:
        ids = list(task_ids)
        if ids:
            pipe = self.client.pipeline(transaction=False)
            pipe.hdel(self.key("tasks", "open"), *ids)
            for task_id in ids:
                await move_task(pipe, self._move, self.load_keys, task_id, None, False)
            await pipe.execute()

    async def mark_alive(self, sentinel: str) -> bool:
        """Set the sentinel key; False when it was missing (Redis restarted without data, or
        this view was never written)."""
        return bool(await self.client.set(self.key("view", sentinel), "1", nx=True)) is False

    async def write_worker_metrics(self, worker_id: str, snapshot: dict[str, Any]) -> None:
        key = self.key("workers", worker_id)
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(key, mapping={"metrics": json.dumps(snapshot)})
        pipe.expire(key, 120)
        await pipe.execute()


def _owner_of(body: str | bytes) -> str:
    from workers.stream.csm_load import UNASSIGNED

    try:
        return json.loads(body).get("owner_id") or UNASSIGNED
    except (ValueError, AttributeError):
        return UNASSIGNED
