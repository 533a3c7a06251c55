"""`cs-signals notify slack`: one Slack message per task, edited as the task changes.

Per task, Redis keeps the message's channel and `ts` (`<p>notify:slack:msg:<task_id>`): the
first action posts (`chat.postMessage`), later ones edit (`chat.update`); a message Slack can
no longer edit is posted anew. Holds, kept in Redis until their time (`held` hash and
`held_due` sorted set), replace any earlier hold of the same task, so the latest state wins:
- `snoozed` feedback (topic task-feedback, read into `snooze:<task_id>` until `until`) holds
  `updated` actions of that task until `until`; `resolved` always goes through;
- quiet hours (owner's time zone, mapping file) hold actions that would post a *new* message;
  edits of an existing message notify nobody and go through.
With a daily budget (`SLACK_DAILY_BUDGET`, slack_digest.py) a new message past the owner's
budget goes into their daily digest instead: `budget:<owner>:<local day>` (sorted set of the
tasks that took a ping, in order: a redelivered task keeps its place), `digest:<owner>|<due>`
(hash task_id -> entry), `digest_due` (sorted set by due time) and `digested:<task_id>` (the
digest a task went to; its later actions follow it there).
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time
from typing import Any

import redis.asyncio as aioredis
from aiokafka import ConsumerRecord

from workers.delivery.consumer import Batch, DeadLetterPublisher, in_task_order
from workers.delivery.messages import DeadLetter, TaskMessage
from workers.delivery.retry import DeliveryFailed, Sleep, Stopping
from workers.delivery.slack_api import MessageGone, SlackApi
from workers.delivery.slack_digest import (
    always_pings,
    local_day,
    next_digest,
    rank,
    render_digest,
)
from workers.delivery.slack_mapping import Destination, SlackMapping
from workers.delivery.slack_render import render

_REF_TTL_SECONDS = 180 * 86400  # a task untouched for half a year gets a new message
_BUDGET_TTL_SECONDS = 3 * 86400  # a local day's ping list outlives the day in every zone

# The place of a task among the day's pings (1-based), added once: a redelivered task keeps it.
# KEYS[1] the day's sorted set; ARGV[1] the task id, ARGV[2] the TTL.
_PLACE_SCRIPT = """
local place = redis.call('ZSCORE', KEYS[1], ARGV[1])
if place then return tonumber(place) end
place = redis.call('ZCARD', KEYS[1]) + 1
redis.call('ZADD', KEYS[1], place, ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return place
"""


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
        daily_budget: int = 0,
        digest_at: time = time(16, 0),
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
        self.daily_budget = daily_budget
        self.digest_at = digest_at
        self.view_prefix = key_prefix  # the workers' Redis view (health hashes hold the ARR)
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
            raise _no_destination(owner)
        ref = await self._ref(task_id)
        now = self.now()
        if self.daily_budget and ref is None and await self._digested(task, origin, dest, now):
            return
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

    # -- the daily budget and digest ------------------------------------------------------

    async def _digested(
        self, task: dict[str, Any], origin: dict[str, Any], dest: Destination, now: datetime
    ) -> bool:
        """True when the task's action went into (or out of) a digest instead of a ping."""
        task_id = str(task["task_id"])
        action = task.get("action")
        marker = await self.redis.get(f"{self.p}digested:{task_id}")
        if marker is None:
            if action == "resolved" or always_pings(task):
                return False
            owner = dest.owner_id or "_"
            day = local_day(now, dest.zone).isoformat()
            place = await self.redis.eval(
                _PLACE_SCRIPT, 1, f"{self.p}budget:{owner}:{day}", task_id, _BUDGET_TTL_SECONDS
            )
            if int(place) <= self.daily_budget:
                return False
        else:
            if always_pings(task) and action != "resolved":
                # Escalated to critical: out of the digest, pinged now.
                await self._leave_digest(task_id, marker)
                return False
        if action == "resolved":
            # Resolved before its digest went out: nothing left to tell (after: no ping).
            await self.redis.hdel(f"{self.p}digest:{marker}", task_id)
            self.log.info("slack_task_resolved_in_digest", task_id=task_id, digest=marker)
            return True
        due = next_digest(now, self.digest_at, dest.zone)
        digest = f"{dest.owner_id or ''}|{due.isoformat()}"
        arr = await self._arr(task)
        entry = json.dumps({"task": task, "origin": origin, "rank": rank(task, arr), "arr": arr})
        async with self.redis.pipeline(transaction=True) as pipe:
            if marker is not None and marker != digest:
                pipe.hdel(f"{self.p}digest:{marker}", task_id)
            pipe.hset(f"{self.p}digest:{digest}", task_id, entry)
            pipe.zadd(f"{self.p}digest_due", {digest: due.timestamp()})
            pipe.set(f"{self.p}digested:{task_id}", digest, ex=_REF_TTL_SECONDS)
            await pipe.execute()
        self.log.info(
            "slack_task_digested",
            task_id=task_id,
            action=action,
            owner_id=dest.owner_id,
            digest_at=due.isoformat(),
            daily_budget=self.daily_budget,
        )
        return True

    async def _leave_digest(self, task_id: str, digest: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(f"{self.p}digest:{digest}", task_id)
            pipe.delete(f"{self.p}digested:{task_id}")
            await pipe.execute()

    async def _arr(self, task: dict[str, Any]) -> float | None:
        raw = await self.redis.hget(f"{self.view_prefix}health:{task.get('account_id')}", "arr")
        try:
            return float(raw) if raw not in (None, b"", "") else None
        except (TypeError, ValueError):
            return None

    async def _post_digest(self, digest: str) -> None:
        key = f"{self.p}digest:{digest}"
        raw = await self.redis.hgetall(key)
        if not raw:
            return  # every task in it was resolved first
        entries = [json.loads(v) for v in raw.values()]
        owner = digest.split("|", 1)[0] or None
        dest = self.mapping.destination(owner)
        try:
            if dest is None:
                raise _no_destination(owner)
            text, blocks = render_digest(
                owner, entries, self.daily_budget, self.url_template, dest.mention
            )
            posted = await self.api.post_message(dest.channel, text, blocks)
        except DeliveryFailed as exc:
            # Not one of them is lost: each deferred task goes to notify-dead-letters.
            await self.dead_letters.publish([_dead(self.name, e, exc) for e in entries])
        else:
            self.log.info(
                "slack_digest_posted",
                owner_id=owner,
                tasks=len(entries),
                channel=posted.channel,
                ts=posted.ts,
            )
        await self.redis.delete(key)

    async def release_digests(self) -> None:
        """Post the digests that are due (called by release_held's loop)."""
        await self._claim_due(f"{self.p}digest_due", 20, self._post_digest)

    async def _claim_due(
        self, due_key: str, limit: int, handle: Callable[[str], Awaitable[None]]
    ) -> None:
        """Hand each member of the sorted set `due_key` whose time has come to `handle`.
        Whoever removes a member handles it: two notifiers never both do. A member not
        handled (stopping, or a fatal error) is put back, due now, and the error raised."""
        due = await self.redis.zrangebyscore(
            due_key, "-inf", self.now().timestamp(), start=0, num=limit
        )
        for member in due:
            if not await self.redis.zrem(due_key, member):
                continue
            try:
                await handle(member)
            except BaseException:
                await self.redis.zadd(due_key, {member: self.now().timestamp()})
                raise

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
            try:
                # Always: digests deferred under an earlier budget still go out.
                await self.release_digests()
                await self._claim_due(f"{self.p}held_due", 100, self._release)
            except Stopping:
                return

    async def _release(self, task_id: str) -> None:
        async with self._lock(task_id):
            raw = await self.redis.hget(f"{self.p}held", task_id)
            if raw is None:
                return
            entry = json.loads(raw)
            try:
                await self._handle(entry["task"], entry["origin"])
            except DeliveryFailed as exc:
                await self.dead_letters.publish([_dead(self.name, entry, exc)])
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


def _no_destination(owner: str | None) -> DeliveryFailed:
    return DeliveryFailed(
        f"owner {owner!r} has no Slack destination in the mapping file and there is no "
        "default channel (--default-channel)"
    )


def _dead(sink: str, entry: dict[str, Any], exc: DeliveryFailed) -> DeadLetter:
    """A held or digested task ({"task", "origin"}) that could not be delivered."""
    origin = entry["origin"]
    return DeadLetter(
        sink=sink,
        reason=exc.reason,
        topic=origin["topic"],
        partition=origin["partition"],
        offset=origin["offset"],
        value=json.dumps(entry["task"]).encode(),
        task=entry["task"],
        attempts=exc.attempts,
        destination=exc.destination,
    )
