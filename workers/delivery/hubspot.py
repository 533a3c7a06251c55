"""`cs-signals sync hubspot`: tasks upserted into HubSpot, completed ones reported back.

Upsert: `POST /crm/v3/objects/tasks/batch/upsert` with `idProperty` = the mapping's
`id_field` (a unique task property created beforehand, e.g. `cs_task_id`) and `id` = task_id.
A batch is sent in rounds, the first action of every task, then the second, ... so one task's
actions reach HubSpot in order. 200/201 acknowledge; 207 names failed inputs (dead-lettered);
a 4xx for a whole batch is retried input by input so only the bad ones are dead-lettered;
401/403 stop the sync (token or scopes wrong).

Closed in HubSpot: `POST /crm/v3/objects/tasks/search` for tasks whose status is the mapping's
resolved status, that have the id property, modified since the cursor (crm_common.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from workers.delivery.crm_common import ClosedInCrm, CrmState
from workers.delivery.crm_mapping import CrmMapping
from workers.delivery.http import check_status, request
from workers.delivery.messages import DeadLetter, TaskMessage, dead_letter_for
from workers.delivery.retry import DeliveryFailed, RetryPolicy, Sleep, with_retries

SOURCE = "crm:hubspot"
BATCH_LIMIT = 100
_FATAL = (401, 403)


class HubSpotSync:
    name = SOURCE

    def __init__(
        self,
        session: aiohttp.ClientSession,
        api_url: str,
        token: str,
        mapping: CrmMapping,
        state: CrmState,
        policy: RetryPolicy,
        sleep: Sleep,
        log: Any,
        on_retry: Callable[[Exception, float], None] | None = None,
    ) -> None:
        self.session = session
        self.api_url = api_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.mapping = mapping
        self.state = state
        self.policy = policy
        self.sleep = sleep
        self.log = log
        self.on_retry = on_retry

    # -- upsert ---------------------------------------------------------------------------

    async def deliver(self, batch: list[TaskMessage]) -> list[DeadLetter]:
        chains: dict[str, list[TaskMessage]] = {}
        for message in batch:
            chains.setdefault(message.task_id, []).append(message)
        dead: list[DeadLetter] = []
        depth = max((len(chain) for chain in chains.values()), default=0)
        for round_no in range(depth):
            layer = [chain[round_no] for chain in chains.values() if len(chain) > round_no]
            for start in range(0, len(layer), BATCH_LIMIT):
                dead.extend(await self._upsert(layer[start : start + BATCH_LIMIT]))
        return dead

    async def _upsert(self, messages: list[TaskMessage]) -> list[DeadLetter]:
        dead: list[DeadLetter] = []
        inputs: list[dict[str, Any]] = []
        sent: list[TaskMessage] = []
        for message in messages:
            try:
                properties = self.mapping.record(message.task)
            except (ValueError, TypeError) as exc:
                dead.append(dead_letter_for(message, self.name, f"field mapping: {exc}"))
                continue
            await self.state.remember(message.task)
            if message.action == "resolved":
                # Before sending, so the poll never reports our own completion back.
                await self.state.mark_closed(message.task_id, "us")
            inputs.append(
                {
                    "id": message.task_id,
                    "idProperty": self.mapping.id_field,
                    "properties": properties,
                }
            )
            sent.append(message)
        if not inputs:
            return dead
        url = f"{self.api_url}/crm/v3/objects/tasks/batch/upsert"
        what = f"HubSpot tasks batch upsert ({len(inputs)} task(s))"

        async def attempt() -> Any:
            response = await request(
                self.session, "POST", url, what, json={"inputs": inputs}, headers=self._headers
            )
            check_status(response, what, fatal=_FATAL)
            return response.status, response.json() if response.body else {}

        try:
            status, answer = await with_retries(attempt, self.policy, self.sleep, self.on_retry)
        except DeliveryFailed as exc:
            if len(sent) > 1 and not exc.exhausted:
                # One bad input fails the whole batch: find it by sending them one by one.
                for message in sent:
                    dead.extend(await self._upsert([message]))
                return dead
            return dead + [
                dead_letter_for(m, self.name, exc.reason, exc.attempts, "hubspot") for m in sent
            ]
        failed = _failed_inputs(status, answer, sent, self.mapping.id_field)
        for message in sent:
            if message.task_id in failed:
                dead.append(
                    dead_letter_for(message, self.name, failed[message.task_id], 1, "hubspot")
                )
            else:
                self.log.info(
                    "crm_task_synced",
                    crm="hubspot",
                    task_id=message.task_id,
                    action=message.action,
                    account_id=message.task.get("account_id"),
                )
        return dead

    # -- closed in HubSpot ----------------------------------------------------------------

    async def closed_since(self, since: datetime) -> list[ClosedInCrm]:
        closed_value = self.mapping.closed_value
        id_field, status_field = self.mapping.id_field, self.mapping.status_field
        url = f"{self.api_url}/crm/v3/objects/tasks/search"
        what = "HubSpot tasks search"
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": status_field, "operator": "EQ", "value": closed_value},
                        {"propertyName": id_field, "operator": "HAS_PROPERTY"},
                        {
                            "propertyName": "hs_lastmodifieddate",
                            "operator": "GTE",
                            "value": str(int(since.timestamp() * 1000)),
                        },
                    ]
                }
            ],
            "properties": [id_field, status_field, "hs_lastmodifieddate", "hubspot_owner_id"],
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "limit": 100,
        }
        found: list[ClosedInCrm] = []
        while True:

            async def attempt(page: dict[str, Any] = body) -> Any:
                response = await request(
                    self.session, "POST", url, what, json=page, headers=self._headers
                )
                return check_status(response, what, fatal=_FATAL).json() or {}

            answer = await with_retries(attempt, self.policy, self.sleep, self.on_retry)
            for result in answer.get("results") or []:
                props = result.get("properties") or {}
                task_id = props.get(id_field)
                if not task_id:
                    continue
                found.append(
                    ClosedInCrm(
                        task_id=str(task_id),
                        closed_at=_hs_time(
                            props.get("hs_lastmodifieddate") or result.get("updatedAt")
                        ),
                        by=props.get("hubspot_owner_id"),
                        record_id=str(result.get("id")),
                    )
                )
            after = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return found
            body = {**body, "after": str(after)}


def _hs_time(value: Any) -> datetime:
    if value is None:
        return datetime.now(UTC)
    text = str(value)
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _failed_inputs(
    status: int, answer: Any, sent: list[TaskMessage], id_field: str
) -> dict[str, str]:
    """task_id -> reason for the inputs a 207 Multi-Status answer rejected."""
    if status != 207 or not isinstance(answer, dict):
        return {}
    errors = answer.get("errors") or []
    failed: dict[str, str] = {}
    unattributed: list[str] = []
    for error in errors:
        message = str(error.get("message") or error.get("category") or "rejected")
        reason = f"HubSpot rejected the task: {message}"
        ids = ((error.get("context") or {}).get("ids")) or []
        for task_id in ids:
            failed[str(task_id)] = reason
        if not ids:
            unattributed.append(reason)
    if unattributed:
        done = {
            str((result.get("properties") or {}).get(id_field))
            for result in answer.get("results") or []
        }
        for message in sent:
            if message.task_id not in done and message.task_id not in failed:
                failed[message.task_id] = "; ".join(unattributed)
    return failed
