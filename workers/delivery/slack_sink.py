"""`cs-signals notify slack`: one Slack message per task, edited as the task changes.

Per task, Redis keeps the message's channel and `ts` (`<p>notify:slack:msg:<task_id>`): the
first action posts (`chat.postMessage`), later ones edit (`chat.update`); a message Slack can
no longer edit is posted anew. Holds, kept in Redis until their time (`held` hash and
`held_due` sorted set), replace any earlier hold of the same task, so the latest state wins:
- `snoozed` feedback (topic task-feedback, read into `snooze:<task_id>` until `until`) holds
  `updated` actions of that task until `until`; `resolved` always goes through;
- quiet hours (owner's time zone, mapping file) hold actions that would post a *new* message;
  edits of an existing message notify nobody and go through.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from aiokafka import ConsumerRecord

from workers.delivery.consumer import Batch, DeadLetterPublisher, in_task_order
from workers.delivery.messages import DeadLetter, TaskMessage
from workers.delivery.retry import DeliveryFailed, Sleep, Stopping
from workers.delivery.slack_api import MessageGone, SlackApi
from workers.delivery.slack_mapping import Destination, SlackMapping
from workers.delivery.slack_render import render

_REF_TTL_SECONDS = 180 * 86400  # a task untouched for half a year gets a new message


def _parse_time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else None


class SlackNotifier:
    name = "slack"

    def __init__(
        self,
        api: SlackApi,
        mapping: SlackMapping,
        redis: aioredis.Redis,
        key_prefix: str,
        dead_letters: DeadLetterPublisher,
        sleep: Sleep,
        log: Any,
        *,
        url_template: str | None = None,
        concurrency: int = 8,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.api = api
        self.mapping = mapping
        self.redis = redis
        self.p = f"{key_prefix}notify:slack:"
        self.dead_letters = dead_letters
        self.sleep = sleep
        self.log = log
        self.url_template = url_template
        self.concurrency = concurrency
        self.now = now
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    # -- the task stream ------------------------------------------------------------------

    async def deliver(self, batch: list[TaskMessage]) -> list[DeadLetter]:
        return await in_task_order(batch, self._one, self.name, self.concurrency)

    async def _one(self, message: TaskMessage) -> None:
        async with self._lock(message.task_id):
            await self._handle(message.task, _origin(message))

    def _lock(self, task_id: str) -> asyncio.Lock:
        lock = self._locks.get(task_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[task_id] = lock
        return lock

    async def _handle(self, task: dict[str, Any], origin: dict[str, Any]) -> None:
        task_id = str(task["task_id"])
        owner = task.get("owner_id")
        dest = self.mapping.destination(owner)
        if dest is None:
            raise DeliveryFailed(
                f"owner {owner!r} has no Slack destination in the mapping file and there is no "
                "default channel (--default-channel)"
            )
        ref = await self._ref(task_id)
        now = self.now()
        release: datetime | None = None
        why = ""
        if task.get("action") == "updated":
            snoozed = await self._snoozed_until(task_id)
            if snoozed is not None and snoozed > now:
                release, why = snoozed, "snoozed"
        if ref is None:
            quiet = dest.quiet_until(now)
            if quiet is not None and (release is None or quiet > release):
                release, why = quiet, "quiet hours"
        if release is not None:
            await self._hold(task, origin, release, why)
            return
        try:
            await self._send(task, dest, ref)
        except DeliveryFailed:
            await self._drop_held(task_id)
            raise
        # Delivered: an older hold of this task is superseded.
        await self._drop_held(task_id)

    async def _send(
        self, task: dict[str, Any], dest: Destination, ref: dict[str, str] | None
    ) -> None:
        task_id = str(task["task_id"])
        text, blocks = render(task, self.url_template, dest.mention)
        if ref is not None:
            try:
                await self.api.update(ref["channel"], ref["ts"], text, blocks)
            except MessageGone as exc:
                self.log.warning("slack_message_gone", task_id=task_id, reason=exc.reason)
            else:
                await self._save_ref(task_id, ref["channel"], ref["ts"])
                self._logged("slack_message_updated", task, ref["channel"], ref["ts"])
                return
        posted = await self.api.post_message(dest.channel, text, blocks)
        await self._save_ref(task_id, posted.channel, posted.ts)
        self._logged("slack_message_posted", task, posted.channel, posted.ts)

    def _logged(self, event: str, task: dict[str, Any], channel: str, ts: str) -> None:
        self.log.info(
            event,
            task_id=task.get("task_id"),
            action=task.get("action"),
            account_id=task.get("account_id"),
            channel=channel,
            ts=ts,
        )

    # -- Redis state ----------------------------------------------------------------------

    async def _ref(self, task_id: str) -> dict[str, str] | None:
        raw = await self.redis.get(f"{self.p}msg:{task_id}")
        return json.loads(raw) if raw else None

    async def _save_ref(self, task_id: str, channel: str, ts: str) -> None:
        value = json.dumps({"channel": channel, "ts": ts})
        await self.redis.set(f"{self.p}msg:{task_id}", value, ex=_REF_TTL_SECONDS)

    async def _snoozed_until(self, task_id: str) -> datetime | None:
        raw = await self.redis.get(f"{self.p}snooze:{task_id}")
        return _parse_time(raw) if raw else None

    async def _hold(
        self, task: dict[str, Any], origin: dict[str, Any], until: datetime, why: str
    ) -> None:
        task_id = str(task["task_id"])
        entry = json.dumps({"task": task, "origin": origin, "why": why})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{self.p}held", task_id, entry)
            pipe.zadd(f"{self.p}held_due", {task_id: until.timestamp()})
            await pipe.execute()
        self.log.info(
            "slack_message_held",
            task_id=task_id,
            action=task.get("action"),
            until=until.isoformat(),
            why=why,
        )

    async def _drop_held(self, task_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{self.p}held", task_id)
            pipe.zrem(f"{self.p}held_due", task_id)
            await pipe.execute()

    # -- background: held messages whose time came, and snoozes ---------------------------

    async def release_held(self, tick: float = 1.0) -> None:
        """Deliver held messages when their time comes, until the process stops."""
        while True:
            try:
                await self.sleep(tick)
            except Stopping:
                return
            due = await self.redis.zrangebyscore(
                f"{self.p}held_due", "-inf", self.now().timestamp(), start=0, num=100
            )
            for task_id in due:
                # Whoever removes it delivers it: two notifiers never both do.
                if not await self.redis.zrem(f"{self.p}held_due", task_id):
                    continue
                try:
                    await self._release(task_id)
                except BaseException as exc:
                    # Not delivered (stopping, or a fatal error): keep it due.
                    await self.redis.zadd(f"{self.p}held_due", {task_id: self.now().timestamp()})
                    if isinstance(exc, Stopping):
                        return
                    raise

    async def _release(self, task_id: str) -> None:
        async with self._lock(task_id):
            raw = await self.redis.hget(f"{self.p}held", task_id)
            if raw is None:
                return
            entry = json.loads(raw)
            try:
                await self._handle(entry["task"], entry["origin"])
            except DeliveryFailed as exc:
                origin = entry["origin"]
                letter = DeadLetter(
                    sink=self.name,
                    reason=exc.reason,
                    topic=origin["topic"],
                    partition=origin["partition"],
                    offset=origin["offset"],
                    value=json.dumps(entry["task"]).encode(),
                    task=entry["task"],
                    attempts=exc.attempts,
                    destination=exc.destination,
                )
                await self.dead_letters.publish([letter])
                await self._drop_held(task_id)

    async def on_feedback(self, batch: Batch) -> None:
        """A CommitLoop handler for task-feedback: remember each `snoozed` until `until`."""
        for records in batch.values():
            for record in records:
                await self._feedback(record)

    async def _feedback(self, record: ConsumerRecord[Any, Any]) -> None:
        try:
            feedback = json.loads(record.value or b"")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return  # the stream worker dead-letters malformed feedback
        if not isinstance(feedback, dict) or feedback.get("action") != "snoozed":
            return
        task_id, until = feedback.get("task_id"), _parse_time(feedback.get("until"))
        if not task_id or until is None or until <= self.now():
            return
        await self.redis.set(
            f"{self.p}snooze:{task_id}", until.isoformat(), exat=int(until.timestamp()) + 1
        )
        self.log.info("task_snoozed", task_id=task_id, until=until.isoformat())


def _origin(message: TaskMessage) -> dict[str, Any]:
    return {"topic": message.topic, "partition": message.partition, "offset": message.offset}
