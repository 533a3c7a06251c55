"""What both CRM syncs share: the little they remember per task in Redis, and the poll that
turns a task closed in the CRM into `task-feedback` (`action: done`, `source: crm:<name>`).

Redis (prefix `<p>sync:<crm>:`): `task:<task_id>` = {account_id, playbook} of every task
synced (the feedback needs them); `closed:<task_id>` = "us" once we sent the completed status
(a `resolved` task), "crm" once its closing in the CRM was reported: neither is reported
(again); `cursor` = the last-modified time the next poll starts from (minus a minute).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from workers.delivery.retry import DeliveryError, Fatal, Sleep, Stopping

_TTL = 400 * 86400
_OVERLAP = timedelta(minutes=1)
FIRST_LOOK_BACK = timedelta(days=7)


@dataclass(frozen=True)
class ClosedInCrm:
    task_id: str
    closed_at: datetime
    by: str | None
    record_id: str


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def feedback_event(
    source: str, closed: ClosedInCrm, account_id: str, playbook: str | None
) -> dict[str, Any]:
    """The TaskFeedback for a task closed in the CRM; its event_id depends only on the CRM and
    the task, so a repeated report is a duplicate the worker drops."""
    return {
        "event_id": f"{source}:{closed.task_id}:done",
        "account_id": account_id,
        "occurred_at": rfc3339(closed.closed_at),
        "task_id": closed.task_id,
        "playbook": playbook,
        "action": "done",
        "by": closed.by or source,
        "source": source,
        "note": f"completed in {source.removeprefix('crm:')} (record {closed.record_id})",
    }


class CrmState:
    def __init__(self, redis: aioredis.Redis, key_prefix: str, crm: str) -> None:
        self.redis = redis
        self.p = f"{key_prefix}sync:{crm}:"

    async def remember(self, task: dict[str, Any]) -> None:
        info = json.dumps({"account_id": task.get("account_id"), "playbook": task.get("playbook")})
        await self.redis.set(f"{self.p}task:{task['task_id']}", info, ex=_TTL)

    async def info(self, task_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(f"{self.p}task:{task_id}")
        return json.loads(raw) if raw else None

    async def mark_closed(self, task_id: str, by: str) -> None:
        await self.redis.set(f"{self.p}closed:{task_id}", by, ex=_TTL)

    async def is_closed(self, task_id: str) -> bool:
        return bool(await self.redis.exists(f"{self.p}closed:{task_id}"))

    async def cursor(self) -> datetime | None:
        raw = await self.redis.get(f"{self.p}cursor")
        return datetime.fromisoformat(raw) if raw else None

    async def set_cursor(self, moment: datetime) -> None:
        await self.redis.set(f"{self.p}cursor", moment.isoformat())


class ClosedPoller:
    """Every `interval` seconds: fetch tasks closed in the CRM since the cursor and publish a
    `done` feedback for each one we synced and did not close ourselves."""

    def __init__(
        self,
        source: str,
        fetch: Callable[[datetime], Awaitable[list[ClosedInCrm]]],
        state: CrmState,
        producer: AIOKafkaProducer,
        feedback_topic: str,
        interval: float,
        sleep: Sleep,
        log: Any,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.source = source
        self.fetch = fetch
        self.state = state
        self.producer = producer
        self.topic = feedback_topic
        self.interval = interval
        self.sleep = sleep
        self.log = log
        self.now = now

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
                await self.sleep(self.interval)
            except Stopping:
                return

    async def poll_once(self) -> int:
        since = await self.state.cursor() or self.now() - FIRST_LOOK_BACK
        try:
            closed = await self.fetch(since - _OVERLAP)
        except (Stopping, Fatal):
            raise
        except DeliveryError as exc:
            self.log.warning("crm_poll_failed", source=self.source, reason=exc.reason)
            return 0
        reported = 0
        for item in sorted(closed, key=lambda c: c.closed_at):
            if await self.state.is_closed(item.task_id):
                continue
            info = await self.state.info(item.task_id)
            if info is None or not info.get("account_id"):
                self.log.info("crm_closed_unknown_task", source=self.source, task_id=item.task_id)
                continue
            event = feedback_event(self.source, item, info["account_id"], info.get("playbook"))
            await self.producer.send_and_wait(
                self.topic, json.dumps(event).encode(), key=str(info["account_id"]).encode()
            )
            await self.state.mark_closed(item.task_id, "crm")
            reported += 1
            self.log.info(
                "crm_task_closed",
                source=self.source,
                task_id=item.task_id,
                account_id=info["account_id"],
                record_id=item.record_id,
            )
        if closed:
            await self.state.set_cursor(max(item.closed_at for item in closed))
        return reported
