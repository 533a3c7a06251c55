"""The CSM load view: touchpoints and tasks per CSM and ISO week, open tasks and the book per
CSM, so a lead can see who is over capacity (DOMAIN.md: 1:15 enterprise, 1:40 mid-market).

Written into Redis with each batch's view write (redis_view.py), after the commit:
- `<p>csm:<csm_id>:week:<YYYY-Www>` hash (event-time ISO week; kept 26 weeks):
  `touchpoints` (the CSM's outbound activities, notes and bookings excluded),
  `touch:<kind>`, `inbound` (the customer's), `tasks_opened`, `tasks_resolved`;
- `<p>csm:<csm_id>:open_tasks` set: the open tasks owned by the CSM (SCARD: how many);
- `<p>csm:<csm_id>:accounts:<segment>` set: the accounts the CSM owns (segment `none` when
  unknown), from the facts of each published health score;
- `<p>csm:ids` set of the CSM ids seen; `<p>csm:index` hash (internal: task and account ->
  their current owner, so a move between CSMs leaves nothing behind).
Tasks and accounts without a CSM count under `_unassigned`. Week counters count each applied
activity once (a redelivery is a duplicate by event id); a Redis write given up during an
outage loses them (the open-task and account sets are rewritten by the view repairs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from events.models import ActivityEvent, PlaybookTask

UNASSIGNED = "_unassigned"
WEEK_TTL_SECONDS = 26 * 7 * 86400

# Moves a member (a task or an account) to its current owner's set, idempotently:
# KEYS[1] the index hash; ARGV: index field, member, new set key ('' = none any more), the
# set key the message names (removed from as well when closing), CSM ids set key, CSM id.
MOVE_SCRIPT = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old and old ~= ARGV[3] then redis.call('SREM', old, ARGV[2]) end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if ARGV[4] ~= '' then redis.call('SREM', ARGV[4], ARGV[2]) end
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('SADD', ARGV[3], ARGV[2])
  redis.call('SADD', ARGV[5], ARGV[6])
end
return 1
"""


@dataclass(frozen=True)
class Touch:
    csm_id: str
    week: str
    kind: str
    direction: str


def week_of(moment: datetime) -> str:
    year, week, _ = moment.isocalendar()
    return f"{year}-W{week:02d}"


def touch_of(event: ActivityEvent) -> Touch | None:
    """The touch an applied activity counts as (None for notes and bookings)."""
    if event.activity_kind == "note" or event.is_booking:
        return None
    return Touch(
        event.csm_id or UNASSIGNED, week_of(event.occurred_at), event.activity_kind, event.direction
    )


def week_fields(touch: Touch) -> list[str]:
    if touch.direction == "inbound":
        return ["inbound"]
    return ["touchpoints", f"touch:{touch.kind}"]


def task_week_field(task: PlaybookTask) -> str | None:
    if task.action == "opened":
        return "tasks_opened"
    if task.action == "resolved":
        return "tasks_resolved"
    return None


class LoadKeys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def week(self, csm_id: str, week: str) -> str:
        return f"{self.prefix}csm:{csm_id}:week:{week}"

    def open_tasks(self, csm_id: str) -> str:
        return f"{self.prefix}csm:{csm_id}:open_tasks"

    def accounts(self, csm_id: str, segment: str | None) -> str:
        return f"{self.prefix}csm:{csm_id}:accounts:{segment or 'none'}"

    @property
    def index(self) -> str:
        return f"{self.prefix}csm:index"

    @property
    def ids(self) -> str:
        return f"{self.prefix}csm:ids"


async def add_load(
    pipe: Any,
    script: Any,
    keys: LoadKeys,
    touches: Iterable[Touch],
    tasks: Iterable[PlaybookTask],
    books: Iterable[tuple[str, dict[str, Any]]],
) -> None:
    """Queue one batch's load updates on a Redis pipeline (`script`: MOVE_SCRIPT registered on
    the asyncio client; awaiting it on a pipeline only queues the call, and the pipeline loads
    the script into Redis before it executes)."""
    weeks: set[str] = set()
    for touch in touches:
        key = keys.week(touch.csm_id, touch.week)
        for name in week_fields(touch):
            pipe.hincrby(key, name, 1)
        pipe.sadd(keys.ids, touch.csm_id)
        weeks.add(key)
    for task in tasks:
        owner = task.owner_id or UNASSIGNED
        name = task_week_field(task)
        if name is not None:
            key = keys.week(owner, week_of(task.occurred_at or task.created_at))
            pipe.hincrby(key, name, 1)
            weeks.add(key)
        await move_task(pipe, script, keys, task.task_id, owner, task.action != "resolved")
    for account_id, facts in books:
        await move_account(pipe, script, keys, account_id, facts)
    for key in sorted(weeks):
        pipe.expire(key, WEEK_TTL_SECONDS)


async def move_task(
    pipe: Any, script: Any, keys: LoadKeys, task_id: str, owner: str | None, is_open: bool
) -> None:
    """`owner` None: unknown (a stale open task dropped by a sweep)."""
    named = keys.open_tasks(owner) if owner is not None else ""
    await script(
        keys=[keys.index],
        args=[f"task:{task_id}", task_id, named if is_open else "", named, keys.ids, owner or ""],
        client=pipe,
    )


async def move_account(
    pipe: Any, script: Any, keys: LoadKeys, account_id: str, facts: dict[str, Any]
) -> None:
    owner = facts.get("csm_id") or UNASSIGNED
    target = keys.accounts(owner, facts.get("segment"))
    await script(
        keys=[keys.index],
        args=[f"account:{account_id}", account_id, target, target, keys.ids, owner],
        client=pipe,
    )


# --- ops-metrics: this worker's share, the latest weeks per CSM ------------------------------

MAX_WEEKS = 4


def count_load(
    load: dict[str, dict[str, dict[str, int]]],
    touches: Iterable[Touch],
    tasks: Iterable[PlaybookTask],
) -> None:
    """csm -> week -> counter name -> count, keeping each CSM's latest MAX_WEEKS weeks."""
    touched: set[str] = set()
    for touch in touches:
        weeks = load.setdefault(touch.csm_id, {})
        counts = weeks.setdefault(touch.week, {})
        for name in week_fields(touch):
            counts[name] = counts.get(name, 0) + 1
        touched.add(touch.csm_id)
    for task in tasks:
        name = task_week_field(task)
        if name is None:
            continue
        owner = task.owner_id or UNASSIGNED
        counts = load.setdefault(owner, {}).setdefault(
            week_of(task.occurred_at or task.created_at), {}
        )
        counts[name] = counts.get(name, 0) + 1
        touched.add(owner)
    for csm in touched:
        weeks = load[csm]
        for old in sorted(weeks)[:-MAX_WEEKS]:
            del weeks[old]
