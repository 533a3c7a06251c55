"""HubSpot CRM v3 tasks: batch upsert by a unique property, and search.

Upsert answers 200 (all created or updated), 207 (some inputs rejected, named in
`errors[].context.ids`), 400 for a batch with an unknown id property or a duplicate id,
401 for a wrong token, 429 + Retry-After while a burst is configured, and any status set to
fail inputs whose id contains a given text."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes.server import FakeServer


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FakeHubSpot(FakeServer):
    def __init__(self, token: str = "pat-test", id_property: str = "cs_task_id") -> None:
        super().__init__()
        self.token = token
        self.id_property = id_property
        self.records: dict[str, dict[str, Any]] = {}  # id value -> {id, properties, history}
        self.rate_limit = 0  # 429s still to answer on upsert
        self.retry_after = "1"
        self.answered: list[int] = []  # upsert statuses, in order
        self.fail_ids: dict[str, int] = {}  # text in an id -> status for its batch
        self.reject_ids: set[str] = set()  # ids answered as 207 errors
        self._ids = itertools.count(1001)

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/crm/v3/objects/tasks/batch/upsert", self._upsert)
        app.router.add_post("/crm/v3/objects/tasks/search", self._search)

    def record(self, task_id: str) -> dict[str, Any] | None:
        with self.lock:
            return self.records.get(task_id)

    def complete_in_crm(self, task_id: str) -> None:
        """What a CSM does in HubSpot: mark the task completed."""
        with self.lock:
            record = self.records[task_id]
            record["properties"]["hs_task_status"] = "COMPLETED"
            record["properties"]["hs_lastmodifieddate"] = _now_iso()

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    async def _upsert(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response(
                {"status": "error", "category": "INVALID_AUTHENTICATION"}, status=401
            )
        inputs = (await request.json()).get("inputs") or []
        with self.lock:
            status = self._refusal(inputs)
            if status is not None:
                self.answered.append(status)
                if status == 429:
                    return web.json_response(
                        {"status": "error", "category": "RATE_LIMITS"},
                        status=429,
                        headers={"Retry-After": self.retry_after},
                    )
                return web.json_response({"status": "error", "message": "refused"}, status=status)
            results, errors = [], []
            for item in inputs:
                key = str(item["id"])
                if key in self.reject_ids:
                    errors.append(
                        {
                            "status": "error",
                            "category": "VALIDATION_ERROR",
                            "message": f"Property values were not valid for {key}",
                            "context": {"ids": [key]},
                        }
                    )
                    continue
                results.append(self._apply(key, item.get("properties") or {}))
            status = 207 if errors else 200
            self.answered.append(status)
        body: dict[str, Any] = {"status": "COMPLETE", "results": results}
        if errors:
            body.update(numErrors=len(errors), errors=errors)
        return web.json_response(body, status=status)

    def _refusal(self, inputs: list[dict[str, Any]]) -> int | None:
        ids = [str(item.get("id")) for item in inputs]
        if any(item.get("idProperty") != self.id_property for item in inputs) or len(
            set(ids)
        ) != len(ids):
            return 400
        if self.rate_limit > 0:
            self.rate_limit -= 1
            return 429
        for text, status in self.fail_ids.items():
            if any(text in key for key in ids):
                return status
        return None

    def _apply(self, key: str, properties: dict[str, Any]) -> dict[str, Any]:
        record = self.records.get(key)
        new = record is None
        if record is None:
            record = self.records[key] = {
                "id": str(next(self._ids)),
                "properties": {self.id_property: key, "hs_createdate": _now_iso()},
                "history": [],
            }
        record["properties"].update({k: str(v) for k, v in properties.items()})
        record["properties"]["hs_lastmodifieddate"] = _now_iso()
        record["history"].append({"new": new, **properties})
        return {"id": record["id"], "properties": dict(record["properties"]), "new": new}

    async def _search(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.json_response({"status": "error"}, status=401)
        query = await request.json()
        filters = query["filterGroups"][0]["filters"]
        with self.lock:
            rows = [r for r in self.records.values() if all(_match(r, f) for f in filters)]
        rows.sort(key=lambda r: r["properties"]["hs_lastmodifieddate"])
        start = int(query.get("after") or 0)
        limit = int(query.get("limit") or 10)
        page = rows[start : start + limit]
        wanted = query.get("properties") or []
        body: dict[str, Any] = {
            "total": len(rows),
            "results": [
                {"id": r["id"], "properties": {p: r["properties"].get(p) for p in wanted}}
                for r in page
            ],
        }
        if start + limit < len(rows):
            body["paging"] = {"next": {"after": str(start + limit)}}
        return web.json_response(body)


def _match(record: dict[str, Any], condition: dict[str, Any]) -> bool:
    value = record["properties"].get(condition["propertyName"])
    operator = condition["operator"]
    if operator == "HAS_PROPERTY":
        return value is not None
    if operator == "EQ":
        return value == condition["value"]
    if operator == "GTE":
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return moment.timestamp() * 1000 >= int(condition["value"])
    raise ValueError(f"fake HubSpot: unsupported operator {operator}")
