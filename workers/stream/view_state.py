"""What the Redis live view shows of each account, kept as part of the worker's own state.

The view in Redis is derived data: Redis may restart empty (no persistence) or miss writes
during an outage. Each account therefore keeps, under its own key (keys.VIEW), the fields of
its health hash and its open tasks' latest messages, updated in the same commit as the
outputs that changed them. A repair re-writes Redis from these records
(workers/stream/view_writer.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from events.models import HealthScore, PlaybookTask
from workers.stream.redis_view import health_fields


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
