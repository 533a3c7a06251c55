"""The board's own history, from the topics into bounded Redis keys (workers/board/keys.py).

Consumed in the consumer group `<CS_APP_ID>-board` (several boards share the work; a new group
starts at the beginning, so a first start back-fills): `health-scores`, `playbook-tasks`,
`task-feedback`, `account-events`, `ticket-events`, `nps-events`. Every write is idempotent
(sorted-set members are the messages' own content, hashes are keyed by id), so a batch that is
redelivered after a crash changes nothing; offsets are committed after the batch is written.
Messages that are not what the contract says are skipped (the worker dead-letters bad input).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis.asyncio as aioredis

from events.models import ACCOUNT_FACT_FIELDS
from workers.board import keys as k
from workers.board.keys import Keys, monday_of, parse_time
from workers.delivery.consumer import Batch

TOPICS = (
    "health-scores",
    "playbook-tasks",
    "task-feedback",
    "account-events",
    "ticket-events",
    "nps-events",
)
# Score changes produced longer ago than this are history (a back-fill), not live news.
LIVE_WINDOW_MS = 120_000

# Set each fact only when this event is not older than the one that set it last.
_FACTS_LUA = """
for i = 2, #ARGV, 2 do
  local at = redis.call('HGET', KEYS[1], 'at:' .. ARGV[i])
  if (not at) or tonumber(at) <= tonumber(ARGV[1]) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1], 'at:' .. ARGV[i], ARGV[1])
  end
end
return 1
"""


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


class Ingester:
    """A CommitLoop handler (workers/delivery/consumer.py)."""

    def __init__(
        self, redis: aioredis.Redis, keys: Keys, topic_prefix: str, history: int, log: Any
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.topic_prefix = topic_prefix
        self.history = history
        self.log = log
        self.facts_script = redis.register_script(_FACTS_LUA)
        self._handlers: dict[str, Callable[[Any, dict[str, Any], datetime], None]] = {
            "health-scores": self._health,
            "playbook-tasks": self._task,
            "task-feedback": self._feedback,
            "ticket-events": self._ticket,
            "nps-events": self._nps,
        }
        self._last_trim = 0.0
        self.skipped = 0

    async def __call__(self, batch: Batch) -> None:
        pipe = self.redis.pipeline(transaction=False)
        clock = 0.0
        live: list[dict[str, Any]] = []
        facts: list[tuple[str, float, list[str]]] = []
        now_ms = time.time() * 1000
        for tp, records in batch.items():
            name = tp.topic[len(self.topic_prefix) :]
            for record in records:
                try:
                    message = json.loads(record.value)
                    account = message["account_id"]
                    moment = parse_time(
                        message.get("computed_at")
                        or message.get("occurred_at")
                        or message.get("created_at")
                    )
                    if not isinstance(account, str) or moment is None:
                        raise ValueError("no account_id or time")
                    if name == "account-events":
                        facts.append(self._facts(message, moment))
                        continue
                    self._handlers[name](pipe, message, moment)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    self.skipped += 1
                    self.log.debug("board_skipped_message", topic=tp.topic, error=str(exc))
                    continue
                if name in ("health-scores", "playbook-tasks"):
                    clock = max(clock, moment.timestamp())
                if name == "health-scores" and now_ms - (record.timestamp or 0) < LIVE_WINDOW_MS:
                    live.append(message)
        for account, at, args in facts:
            await self.facts_script(keys=[self.keys.facts(account)], args=[at, *args], client=pipe)
        if clock:
            pipe.zadd(self.keys.clock, {"event": clock}, gt=True)
        if live:
            await self._live(pipe, live)
        if len(pipe):
            await pipe.execute()
        if time.monotonic() - self._last_trim > 60:
            self._last_trim = time.monotonic()
            await self._trim_weeks()

    # -- per topic -------------------------------------------------------------------------

    def _health(self, pipe: Any, msg: dict[str, Any], at: datetime) -> None:
        components = msg.get("components") or {}
        point = {
            "t": at.isoformat(),
            "s": float(msg["score"]),
            "b": str(msg["band"]),
            "p": msg.get("previous_score"),
            "c": {name: c.get("raw") for name, c in components.items() if isinstance(c, dict)},
        }
        key = self.keys.history(msg["account_id"])
        pipe.zadd(key, {_dump(point): at.timestamp()})
        pipe.zremrangebyrank(key, 0, -(self.history + 1))

    def _task(self, pipe: Any, msg: dict[str, Any], at: datetime) -> None:
        account = msg["account_id"]
        evidence = msg.get("evidence") or {}
        entry = {
            "id": str(msg["task_id"]),
            "a": str(msg["action"]),
            "pb": str(msg["playbook"]),
            "ti": msg.get("title") or "",
            "pr": msg.get("priority") or "",
            "o": msg.get("owner_id"),
            "due": msg.get("due_at"),
            "at": at.isoformat(),
            "r": msg.get("reason") or "",
            "ep": msg.get("episode", 1),
            "fb": evidence.get("feedback") if isinstance(evidence, dict) else None,
        }
        key = self.keys.task_history(account)
        pipe.zadd(key, {_dump(entry): at.timestamp()})
        pipe.zremrangebyrank(key, 0, -(k.TASK_HISTORY + 1))
        summary = {"pb": entry["pb"], "pr": entry["pr"], "o": entry["o"], "a": account}
        if entry["a"] == "opened":
            week = monday_of(parse_time(msg.get("created_at")) or at)
            pipe.hset(self.keys.week(week), entry["id"], _dump(summary))
            pipe.zadd(self.keys.weeks, {week: at.timestamp()}, gt=True)
        due = parse_time(entry["due"])
        if entry["a"] == "resolved" and due is not None and at > due:
            week = monday_of(at)
            late = {**summary, "due": entry["due"], "at": entry["at"]}
            pipe.hset(self.keys.late(week), entry["id"], _dump(late))
            pipe.zadd(self.keys.weeks, {week: at.timestamp()}, gt=True)

    def _feedback(self, pipe: Any, msg: dict[str, Any], at: datetime) -> None:
        entry = {
            name: msg.get(name)
            for name in ("event_id", "action", "by", "source", "until", "reason", "note")
        }
        # As published, so the entry the board wrote when it sent this is the same member.
        entry["at"] = msg["occurred_at"]
        key = self.keys.feedback(str(msg["task_id"]))
        pipe.zadd(key, {_dump(entry): at.timestamp()})
        pipe.zremrangebyrank(key, 0, -(k.FEEDBACK_KEPT + 1))
        pipe.expire(key, k.FEEDBACK_TTL_SECONDS)

    def _ticket(self, pipe: Any, msg: dict[str, Any], at: datetime) -> None:
        entry = {
            "id": str(msg["ticket_id"]),
            "st": msg.get("status"),
            "pr": msg.get("priority") or "normal",
            "su": msg.get("subject"),
            "at": at.isoformat(),
        }
        key = self.keys.tickets(msg["account_id"])
        pipe.zadd(key, {_dump(entry): at.timestamp()})
        pipe.zremrangebyrank(key, 0, -(k.TICKETS_KEPT + 1))

    def _nps(self, pipe: Any, msg: dict[str, Any], at: datetime) -> None:
        entry = {
            "s": int(msg["score"]),
            "cm": msg.get("comment"),
            "rs": msg.get("respondent_id"),
            "at": at.isoformat(),
        }
        key = self.keys.nps(msg["account_id"])
        pipe.zadd(key, {_dump(entry): at.timestamp()})
        pipe.zremrangebyrank(key, 0, -(k.NPS_KEPT + 1))

    @staticmethod
    def _facts(msg: dict[str, Any], at: datetime) -> tuple[str, float, list[str]]:
        args: list[str] = []
        for name in ACCOUNT_FACT_FIELDS:
            if name in msg:
                value = msg[name]
                args += [name, "" if value is None else str(value)]
        return msg["account_id"], at.timestamp(), args

    async def _live(self, pipe: Any, messages: list[dict[str, Any]]) -> None:
        lookup = self.redis.pipeline(transaction=False)
        for msg in messages:
            lookup.hget(self.keys.health(msg["account_id"]), "csm_id")
            lookup.hget(self.keys.facts(msg["account_id"]), "csm_id")
        found = await lookup.execute()
        for i, msg in enumerate(messages):
            csm = found[2 * i] or found[2 * i + 1] or ""
            previous = msg.get("previous_score")
            pipe.xadd(
                self.keys.live,
                {
                    "account_id": msg["account_id"],
                    "score": str(msg["score"]),
                    "band": str(msg["band"]),
                    "previous_score": "" if previous is None else str(previous),
                    "csm_id": csm,
                },
                maxlen=k.LIVE_MAXLEN,
                approximate=True,
            )

    async def _trim_weeks(self) -> None:
        old = [str(w) for w in await self.redis.zrange(self.keys.weeks, 0, -(k.WEEKS_KEPT + 1))]
        if old:
            names = [self.keys.week(w) for w in old] + [self.keys.late(w) for w in old]
            await self.redis.delete(*names)
            await self.redis.zrem(self.keys.weeks, *old)
