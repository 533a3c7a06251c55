"""Every read the pages make: the worker's live view plus the board's own history, filtered to
what the signed-in user may see (a CSM: accounts whose `csm_id` is theirs and tasks they own;
a lead: everything)."""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis

from workers.board.auth import User
from workers.board.keys import Keys, parse_time

BANDS_AT_RISK = ("at_risk", "critical")
# DOMAIN.md, alert quality: calendar playbooks are never risk tasks.
NOT_RISK = {"renewal_approaching", "cadence_overdue", "qbr_due", "expansion_signal"}
BUILTIN_RISK = {
    "usage_drop", "health_at_risk", "health_critical", "nps_detractor", "champion_silent",
    "low_adoption", "support_escalation", "customer_unresponsive", "milestone_overdue",
    "onboarding_stalled",
}
PRIORITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_HEALTH_FIELDS = ("score", "band", "previous_score", "computed_at", "name", "segment", "csm_id")
_FACT_FIELDS = ("name", "segment", "csm_id", "arr", "renewal_date", "status", "licensed_seats")


def is_risk(playbook: str, priority: str) -> bool:
    if playbook in NOT_RISK:
        return False
    return playbook in BUILTIN_RISK or priority in ("high", "critical")


def _float(value: Any) -> float | None:
    try:
        return None if value in (None, "") else float(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Account:
    account_id: str
    name: str
    segment: str
    csm_id: str
    score: float | None
    band: str
    previous_score: float | None
    computed_at: datetime | None
    arr: float | None
    renewal_date: str
    status: str

    @property
    def arr_at_risk(self) -> float:
        return (self.arr or 0.0) if self.band in BANDS_AT_RISK else 0.0


@dataclass
class Task:
    body: dict[str, Any]
    due: datetime | None
    feedback: list[dict[str, Any]] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.body.get(name)

    @property
    def latest_feedback(self) -> dict[str, Any] | None:
        return self.feedback[-1] if self.feedback else None

    def overdue(self, now: datetime) -> bool:
        return self.due is not None and self.due < now

    @property
    def handled(self) -> bool:
        """Someone acknowledged or snoozed it (done and dismissed resolve the task)."""
        return any(f.get("action") in ("acknowledged", "snoozed") for f in self.feedback)

    def snoozed_until(self, now: datetime) -> datetime | None:
        latest = self.latest_feedback
        if latest and latest.get("action") == "snoozed":
            until = parse_time(latest.get("until"))
            if until and until > now:
                return until
        return None


class BoardStore:
    def __init__(self, redis: aioredis.Redis, keys: Keys, clock: str = "wall") -> None:
        self.redis = redis
        self.keys = keys
        self.clock = clock
        self._cache: dict[str, tuple[float, Any]] = {}

    async def _cached(self, name: str, ttl: float, load: Any) -> Any:
        hit = self._cache.get(name)
        if hit and time.monotonic() - hit[0] < ttl:
            return hit[1]
        value = await load()
        self._cache[name] = (time.monotonic(), value)
        return value

    def invalidate(self) -> None:
        self._cache.clear()

    async def now(self) -> datetime:
        if self.clock == "event":
            score = await self.redis.zscore(self.keys.clock, "event")
            if score is not None:
                return datetime.fromtimestamp(float(score), UTC)
        return datetime.now(UTC)

    # -- accounts ---------------------------------------------------------------------------

    async def accounts(self) -> list[Account]:
        return list(await self._cached("accounts", 1.5, self._load_accounts))

    async def _load_accounts(self) -> list[Account]:
        ids = [str(a) for a in await self.redis.zrange(self.keys.ranking, 0, -1)]
        pipe = self.redis.pipeline(transaction=False)
        for account in ids:
            pipe.hmget(self.keys.health(account), list(_HEALTH_FIELDS))
            pipe.hmget(self.keys.facts(account), list(_FACT_FIELDS))
        values = await pipe.execute() if ids else []
        out = []
        for i, account in enumerate(ids):
            h = dict(zip(_HEALTH_FIELDS, values[2 * i], strict=True))
            f = dict(zip(_FACT_FIELDS, values[2 * i + 1], strict=True))
            out.append(
                Account(
                    account_id=account,
                    name=h["name"] or f["name"] or "",
                    segment=h["segment"] or f["segment"] or "",
                    csm_id=h["csm_id"] or f["csm_id"] or "",
                    score=_float(h["score"]),
                    band=h["band"] or "",
                    previous_score=_float(h["previous_score"]),
                    computed_at=parse_time(h["computed_at"]),
                    arr=_float(f["arr"]),
                    renewal_date=f["renewal_date"] or "",
                    status=f["status"] or "",
                )
            )
        return out

    async def visible_accounts(self, user: User, csm: str | None = None) -> list[Account]:
        accounts = await self.accounts()
        wanted = user.csm_id if not user.is_lead else csm
        if wanted is None:
            return accounts
        return [a for a in accounts if a.csm_id == wanted]

    async def account(self, account_id: str) -> Account | None:
        for account in await self.accounts():
            if account.account_id == account_id:
                return account
        self.invalidate()  # a brand-new account: look again
        return next((a for a in await self.accounts() if a.account_id == account_id), None)

    async def can_see(self, user: User, account_id: str) -> bool:
        if user.is_lead:
            return True
        account = await self.account(account_id)
        if account is not None and account.csm_id == user.csm_id:
            return True
        tasks = await self.open_tasks()
        return any(t["account_id"] == account_id and t["owner_id"] == user.csm_id for t in tasks)

    # -- tasks ------------------------------------------------------------------------------

    async def open_tasks(self) -> list[Task]:
        return list(await self._cached("tasks", 1.0, self._load_tasks))

    async def _load_tasks(self) -> list[Task]:
        raw = await self.redis.hgetall(self.keys.open_tasks)
        bodies = []
        for text in raw.values():
            try:
                body = json.loads(text)
            except ValueError:
                continue
            if isinstance(body, dict) and body.get("task_id"):
                bodies.append(body)
        feedback = await self.feedback_for([b["task_id"] for b in bodies])
        tasks = [Task(b, parse_time(b.get("due_at")), feedback[b["task_id"]]) for b in bodies]
        tasks.sort(key=lambda t: (PRIORITY_ORDER.get(t["priority"], 9), t["due_at"] or ""))
        return tasks

    async def visible_tasks(self, user: User, csm: str | None = None) -> list[Task]:
        tasks = await self.open_tasks()
        wanted = user.csm_id if not user.is_lead else csm
        if wanted is None:
            return tasks
        mine = {a.account_id for a in await self.visible_accounts(user, csm)}
        return [t for t in tasks if t["owner_id"] == wanted or t["account_id"] in mine]

    async def open_task(self, task_id: str) -> Task | None:
        text = await self.redis.hget(self.keys.open_tasks, task_id)
        if not text:
            return None
        body = json.loads(text)
        feedback = await self.feedback_for([task_id])
        return Task(body, parse_time(body.get("due_at")), feedback[task_id])

    async def feedback_for(self, task_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        pipe = self.redis.pipeline(transaction=False)
        for task_id in task_ids:
            pipe.zrange(self.keys.feedback(task_id), 0, -1)
        values = await pipe.execute() if task_ids else []
        out: dict[str, list[dict[str, Any]]] = {}
        for task_id, texts in zip(task_ids, values, strict=True):
            seen: dict[str, dict[str, Any]] = {}
            for text in texts:  # oldest first; one per event_id
                entry = json.loads(text)
                seen[str(entry.get("event_id") or text)] = entry
            out[task_id] = list(seen.values())
        return out

    async def add_feedback(self, task_id: str, entry: dict[str, Any], at: datetime) -> None:
        """Show feedback at once (the ingester writes the same entry when it reads it back)."""
        key = self.keys.feedback(task_id)
        text = json.dumps(entry, separators=(",", ":"), sort_keys=True)
        pipe = self.redis.pipeline(transaction=False)
        pipe.zadd(key, {text: at.timestamp()})
        pipe.expire(key, 90 * 86400)
        await pipe.execute()
        self.invalidate()

    # -- one account ------------------------------------------------------------------------

    async def detail(self, account_id: str) -> dict[str, Any]:
        pipe = self.redis.pipeline(transaction=False)
        pipe.hgetall(self.keys.health(account_id))
        pipe.zrange(self.keys.history(account_id), 0, -1)
        pipe.zrange(self.keys.task_history(account_id), 0, -1)
        pipe.zrange(self.keys.tickets(account_id), 0, -1)
        pipe.zrange(self.keys.nps(account_id), 0, -1)
        health, history, tasks, tickets, nps = await pipe.execute()
        try:
            components = json.loads(health.get("components") or "{}")
            missing = json.loads(health.get("components_missing") or "[]")
        except ValueError:
            components, missing = {}, []
        task_history = [json.loads(t) for t in tasks]
        # What people did with the tasks (from any source), between the tasks' own actions.
        ids = sorted({t["id"] for t in task_history})
        by_task = {t["id"]: t for t in task_history}
        for task_id, entries in (await self.feedback_for(ids)).items():
            for fb in entries:
                task_history.append({
                    "id": task_id, "a": fb.get("action"), "pb": by_task[task_id].get("pb"),
                    "pr": "", "at": fb.get("at"), "feedback": fb,
                })
        task_history.sort(key=lambda t: t.get("at") or "", reverse=True)
        return {
            "health": health,
            "components": components,
            "missing": missing,
            "history": [json.loads(p) for p in history],
            "task_history": task_history,
            "tickets": [json.loads(t) for t in reversed(tickets)],
            "nps": [json.loads(n) for n in reversed(nps)],
        }

    # -- live feed, team --------------------------------------------------------------------

    async def feed_keys(self, user: User) -> list[str]:
        if not user.is_lead:
            return [self.keys.feed(user.csm_id)]
        return sorted([key async for key in self.redis.scan_iter(self.keys.feed_pattern, 500)])

    async def recent_feed(self, user: User, count: int = 12) -> list[dict[str, Any]]:
        pipe = self.redis.pipeline(transaction=False)
        names = await self.feed_keys(user)
        for name in names:
            pipe.xrevrange(name, count=count)
        entries = [(eid, f) for rows in (await pipe.execute() if names else []) for eid, f in rows]
        entries.sort(key=lambda e: tuple(int(x) for x in e[0].split("-")), reverse=True)
        return [fields for _eid, fields in entries[:count]]

    async def team(self, now: datetime, weeks: int = 8) -> dict[str, Any]:
        accounts = await self.accounts()
        tasks = await self.open_tasks()
        per: dict[str, Counter[str]] = defaultdict(Counter)
        for account in accounts:
            per[account.csm_id or "_unassigned"]["accounts"] += 1
            if account.band in BANDS_AT_RISK:
                per[account.csm_id or "_unassigned"]["at_risk"] += 1
                per[account.csm_id or "_unassigned"]["arr_at_risk"] += int(account.arr_at_risk)
        breaches: list[Task] = []
        for task in tasks:
            owner = task["owner_id"] or "_unassigned"
            per[owner]["open"] += 1
            if task.overdue(now):
                per[owner]["overdue"] += 1
                if not task.handled:
                    per[owner]["breaching"] += 1
                    breaches.append(task)
        newest = [str(w) for w in await self.redis.zrange(self.keys.weeks, -weeks, -1)]
        week_names = list(reversed(newest))
        pipe = self.redis.pipeline(transaction=False)
        for week in week_names:
            pipe.hvals(self.keys.week(week))
            pipe.hvals(self.keys.late(week))
        values = await pipe.execute() if week_names else []
        risk: dict[str, Counter[str]] = defaultdict(Counter)
        for i, week in enumerate(week_names):
            for text in values[2 * i]:
                item = json.loads(text)
                if is_risk(item.get("pb", ""), item.get("pr", "")):
                    risk[item["pb"]][week] += 1
                    if i == 0:
                        per[item.get("o") or "_unassigned"]["risk_this_week"] += 1
            for text in values[2 * i + 1]:
                item = json.loads(text)
                per[item.get("o") or "_unassigned"]["late_resolved"] += 1
        breaches.sort(key=lambda t: t.due or now)
        return {"per_csm": per, "weeks": week_names, "risk": risk, "breaches": breaches}
