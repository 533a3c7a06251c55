"""Salesforce REST: Task upsert by external id (PATCH), and the SOQL query the sync polls with.

Upsert answers 201 (created) or 200 (updated) with `{id, success, created}`, 401
INVALID_SESSION_ID for a wrong token, 404 for an unknown external-id field, 400 INVALID_FIELD
for a field Task does not have, 429 + Retry-After while a burst is configured, and any status
set to fail ids containing a given text. The query returns two records a page."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer

TASK_FIELDS = {"Subject", "Description", "Priority", "ActivityDate", "Status", "OwnerId", "WhatId"}
_QUERY = re.compile(
    r"FROM Task WHERE IsClosed = true AND (\w+) != null AND LastModifiedDate >= (\S+)"
)
_PAGE = 2


def _sf_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


class FakeSalesforce(FakeServer):
    def __init__(self, token: str = "00Dtest!token", external_id: str = "CS_Task_Id__c") -> None:
        super().__init__()
        self.token = token
        self.external_id = external_id
        self.records: dict[str, dict[str, Any]] = {}  # external id -> fields (+ history)
        self.rate_limit = 0
        self.retry_after = "1"
        self.answered: list[int] = []
        self.fail_ids: dict[str, int] = {}
        self._ids = itertools.count(1)
        self._pages: dict[str, list[dict[str, Any]]] = {}

    def routes(self, app: web.Application) -> None:
        app.router.add_patch("/services/data/{version}/sobjects/Task/{field}/{value}", self._upsert)
        app.router.add_get("/services/data/{version}/query", self._query)
        app.router.add_get("/services/data/{version}/query/{locator}", self._more)

    def record(self, task_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.records.get(task_id)

    def complete_in_crm(self, task_id: str) -> None:
        with self.lock:
            self.records[task_id].update(Status="Completed", LastModifiedDate=_sf_now())

    def _refused(self, request: web.Request) -> web.Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response(
                [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
                status=401,
            )
        return None

    async def _upsert(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        field, key = request.match_info["field"], request.match_info["value"]
        body = await request.json()
        with self.lock:
            status, answer = self._answer(field, key, body)
            self.answered.append(status)
        return web.json_response(answer, status=status)

    def _answer(self, field: str, key: str, body: dict[str, Any]) -> tuple[int, Any]:
        if field != self.external_id:
            message = f"Provided external ID field does not exist or is not accessible: {field}"
            return 404, [{"errorCode": "NOT_FOUND", "message": message}]
        if self.rate_limit > 0:
            self.rate_limit -= 1
            return 429, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}]
        for text, status in self.fail_ids.items():
            if text in key:
                return status, [{"errorCode": "SERVER_UNAVAILABLE", "message": "try later"}]
        unknown = sorted(set(body) - TASK_FIELDS)
        if unknown:
            message = f"No such column '{unknown[0]}' on sobject of type Task"
            return 400, [{"errorCode": "INVALID_FIELD", "message": message, "fields": unknown}]
        record = self.records.get(key)
        created = record is None
        if record is None:
            record = self.records[key] = {"Id": f"00T{next(self._ids):012d}", "history": []}
        record.update(body)
        record[self.external_id] = key
        record["LastModifiedDate"] = _sf_now()
        record["history"].append({"created": created, **body})
        answer = {"id": record["Id"], "success": True, "errors": [], "created": created}
        return (201 if created else 200), answer

    async def _query(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        match = _QUERY.search(request.query.get("q", ""))
        if match is None or match.group(1) != self.external_id:
            return web.json_response([{"errorCode": "MALFORMED_QUERY", "message": "?"}], status=400)
        since = datetime.fromisoformat(match.group(2).replace("Z", "+00:00"))
        with self.lock:
            rows = [
                {k: v for k, v in r.items() if k != "history"}
                for r in self.records.values()
                if r.get("Status") == "Completed"
                and datetime.fromisoformat(r["LastModifiedDate"]) >= since
            ]
        rows.sort(key=lambda r: r["LastModifiedDate"])
        return self._page(request.match_info["version"], rows)

    async def _more(self, request: web.Request) -> web.Response:
        refused = self._refused(request)
        if refused is not None:
            return refused
        rows = self._pages.pop(request.match_info["locator"], [])
        return self._page(request.match_info["version"], rows)

    def _page(self, version: str, rows: list[dict[str, Any]]) -> web.Response:
        body: dict[str, Any] = {"totalSize": len(rows), "done": len(rows) <= _PAGE}
        body["records"] = [{"attributes": {"type": "Task"}, **r} for r in rows[:_PAGE]]
        if len(rows) > _PAGE:
            locator = f"01g{next(self._ids)}-{_PAGE}"
            self._pages[locator] = rows[_PAGE:]
            body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}"
        return web.json_response(body)
