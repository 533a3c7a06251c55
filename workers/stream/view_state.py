"""What the Redis live view shows of each account, kept as part of the worker's own state.

The view in Redis is derived data: Redis may restart empty (no persistence) or miss writes
during an outage. Each account therefore keeps, under its own key (keys.VIEW), the fields of
its health hash and its open tasks' latest messages, updated in the same commit as the
outputs that changed them. A repair re-writes Redis from these records
(workers/stream/view_writer.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from events.models import HealthScore, PlaybookTask
from workers.stream import keys
from workers.stream.redis_view import health_fields

if TYPE_CHECKING:
    from workers.stream.partition import PartitionState


def update_record(
    old: bytes | None,
    health: HealthScore | None,
    facts: dict[str, Any],
    tasks: Iterable[PlaybookTask],
) -> bytes:
    record: dict[str, Any] = json.loads(old) if old else {"h": None, "t": {}}
    if health is not None:
        record["h"] = {k: str(v) for k, v in health_fields(health, facts).items()}
    elif record.get("h"):
        # facts shown beside the score (name, segment, CSM) may have changed on their own
        record["h"].update(
            {
                "name": facts.get("name") or "",
                "segment": facts.get("segment") or "",
                "csm_id": facts.get("csm_id") or "",
            }
        )
    open_tasks: dict[str, str] = record.setdefault("t", {})
    for task in tasks:
        if task.action == "resolved":
            open_tasks.pop(task.task_id, None)
        else:
            open_tasks[task.task_id] = task.model_dump_json()
    return json.dumps(record, separators=(",", ":")).encode()


def decode_record(raw: bytes) -> dict[str, Any]:
    return json.loads(raw)


def record_views(
    facts: Mapping[str, dict[str, Any]],
    health: Iterable[HealthScore],
    tasks: Iterable[tuple[PlaybookTask, float | None]],
    partition_of: Callable[[str], PartitionState | None],
) -> None:
    """Keep what the Redis view shows of each account with outputs in this batch (for
    repairs), as a pending write of the account's partition."""
    if not facts:
        return
    latest = {score.account_id: score for score in health}
    by_account: dict[str, list[PlaybookTask]] = {}
    for task, _ in tasks:
        by_account.setdefault(task.account_id, []).append(task)
    for account_id, account_facts in facts.items():
        part = partition_of(account_id)
        if part is None:
            continue
        key = keys.view_key(account_id)
        old = part.pending.get(key) or part.store.get(key)
        part.pending[key] = update_record(
            old, latest.get(account_id), account_facts, by_account.get(account_id, ())
        )
