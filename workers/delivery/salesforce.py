"""`cs-signals sync salesforce`: tasks upserted into Salesforce, completed ones reported back.

Upsert: `PATCH /services/data/<version>/sobjects/Task/<id_field>/<task_id>` (an external-id
field on Task, e.g. `CS_Task_Id__c`): 201 created, 200/204 updated. One task's actions are
sent one after another. 429 and 5xx are retried; 403 `REQUEST_LIMIT_EXCEEDED` (the org's API
limit) is treated as a rate limit; 401 stops the sync (the token expired or is wrong); any
other 4xx dead-letters the task.

Closed in Salesforce: SOQL `SELECT Id, <id_field>, Status, LastModifiedDate, OwnerId FROM Task
WHERE IsClosed = true AND <id_field> != null AND LastModifiedDate >= <cursor>` through
`GET /services/data/<version>/query`, following `nextRecordsUrl`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from workers.delivery.consumer import in_task_order
from workers.delivery.crm_common import ClosedInCrm, CrmState
from workers.delivery.crm_mapping import CrmMapping
from workers.delivery.http import Response, check_status, request
from workers.delivery.messages import DeadLetter, TaskMessage
from workers.delivery.retry import DeliveryFailed, RateLimited, RetryPolicy, Sleep, with_retries

SOURCE = "crm:salesforce"
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def soql_closed(id_field: str, since: datetime) -> str:
    if not _FIELD_NAME.match(id_field):
        raise ValueError(f"not a Salesforce field name: {id_field!r}")
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"SELECT Id, {id_field}, Status, LastModifiedDate, OwnerId FROM Task "
        f"WHERE IsClosed = true AND {id_field} != null AND LastModifiedDate >= {stamp} "
        "ORDER BY LastModifiedDate"
    )


def _check(response: Response, what: str) -> Response:
    if response.status == 403 and b"REQUEST_LIMIT_EXCEEDED" in response.body:
        raise RateLimited(f"{what}: the org's API request limit is exceeded", response.retry_after)
    return check_status(response, what, fatal=(401,))


class SalesforceSync:
    name = SOURCE

    def __init__(
        self,
        session: aiohttp.ClientSession,
        instance_url: str,
        api_version: str,
        token: str,
        mapping: CrmMapping,
        state: CrmState,
        policy: RetryPolicy,
        sleep: Sleep,
        log: Any,
        *,
        concurrency: int = 8,
        on_retry: Callable[[Exception, float], None] | None = None,
    ) -> None:
        if not _FIELD_NAME.match(mapping.id_field):
            raise ValueError(f"id_field {mapping.id_field!r} is not a Salesforce field name")
        self.session = session
        self.base = f"{instance_url.rstrip('/')}/services/data/{api_version}"
        self.instance_url = instance_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.mapping = mapping
        self.state = state
        self.policy = policy
        self.sleep = sleep
        self.log = log
        self.concurrency = concurrency
        self.on_retry = on_retry

    async def deliver(self, batch: list[TaskMessage]) -> list[DeadLetter]:
        return await in_task_order(batch, self._one, self.name, self.concurrency)

    async def _one(self, message: TaskMessage) -> None:
        try:
            record = self.mapping.record(message.task)
        except (ValueError, TypeError) as exc:
            raise DeliveryFailed(f"field mapping: {exc}") from None
        await self.state.remember(message.task)
        if message.action == "resolved":
            await self.state.mark_closed(message.task_id, "us")
        url = f"{self.base}/sobjects/Task/{self.mapping.id_field}/{quote(message.task_id, safe='')}"
        what = f"Salesforce Task upsert ({message.label})"

        async def attempt() -> int:
            response = await request(
                self.session, "PATCH", url, what, json=record, headers=self._headers
            )
            return _check(response, what).status

        try:
            status = await with_retries(attempt, self.policy, self.sleep, self.on_retry)
        except DeliveryFailed as exc:
            exc.destination = "salesforce"
            raise
        self.log.info(
            "crm_task_synced",
            crm="salesforce",
            task_id=message.task_id,
            action=message.action,
            account_id=message.task.get("account_id"),
            created=status == 201,
        )

    async def closed_since(self, since: datetime) -> list[ClosedInCrm]:
        id_field = self.mapping.id_field
        url: str | None = f"{self.base}/query?q={quote(soql_closed(id_field, since))}"
        what = "Salesforce Task query"
        found: list[ClosedInCrm] = []
        while url:

            async def attempt(page: str = url) -> Any:
                response = await request(self.session, "GET", page, what, headers=self._headers)
                return _check(response, what).json() or {}

            answer = await with_retries(attempt, self.policy, self.sleep, self.on_retry)
            for row in answer.get("records") or []:
                task_id = row.get(id_field)
                if not task_id:
                    continue
                found.append(
                    ClosedInCrm(
                        task_id=str(task_id),
                        closed_at=_sf_time(row.get("LastModifiedDate")),
                        by=row.get("OwnerId"),
                        record_id=str(row.get("Id")),
                    )
                )
            next_url = None if answer.get("done", True) else answer.get("nextRecordsUrl")
            url = f"{self.instance_url}{next_url}" if next_url else None
        return found


def _sf_time(value: Any) -> datetime:
    if not value:
        return datetime.now(UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
