"""Live updates as server-sent events (GET /live?since=<ms>), fed by Redis streams with
XREAD BLOCK: the worker's task feed of the signed-in CSM (`feed:<csm_id>`; every feed for a
lead, new ones picked up as they appear) and the board's score changes (`board:live`, only the
user's accounts). Events: `task` (an action on a task) and `score` (a new health score); the
page then re-renders the parts it shows (workers/board/static/board.js).

`since` is the Redis time the page was rendered at, so nothing between the render and the
connection is missed; a reconnecting browser sends Last-Event-ID instead.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from workers.board.auth import User
from workers.board.context import CONTEXT, BoardContext

BLOCK_MS = 10_000
FEED_RESCAN_SECONDS = 10.0
LOOKBACK_MS = 600_000


async def redis_millis(ctx: BoardContext) -> int:
    seconds, micros = await ctx.redis.time()
    return int(seconds) * 1000 + int(micros) // 1000


def _start_id(request: web.Request, now_ms: int) -> str:
    raw = request.headers.get("Last-Event-ID") or request.query.get("since") or ""
    try:
        since = int(raw.split("-")[0])
    except ValueError:
        since = now_ms
    since = min(max(since, now_ms - LOOKBACK_MS), now_ms)
    # Strictly after the last millisecond before `since`: entries at `since` itself included.
    return f"{since - 1}-18446744073709551615"


def _sse(kind: str, entry_id: str, data: dict[str, Any]) -> bytes:
    payload = json.dumps(data, separators=(",", ":"))
    return f"id: {entry_id.split('-')[0]}\nevent: {kind}\ndata: {payload}\n\n".encode()


async def _score_visible(ctx: BoardContext, user: User, fields: dict[str, str]) -> bool:
    if user.is_lead:
        return True
    csm = fields.get("csm_id") or await ctx.redis.hget(
        ctx.keys.health(fields.get("account_id", "")), "csm_id"
    )
    return csm == user.csm_id


def _task_event(fields: dict[str, str]) -> dict[str, Any]:
    try:
        task = json.loads(fields.get("task") or "{}")
    except ValueError:
        task = {}
    return {
        "action": fields.get("action"),
        "task_id": fields.get("task_id"),
        "account_id": fields.get("account_id"),
        "playbook": fields.get("playbook"),
        "priority": fields.get("priority"),
        "title": task.get("title") or fields.get("playbook"),
        "owner_id": task.get("owner_id"),
    }


async def live_handler(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    user: User = request["user"]
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    current = asyncio.current_task()
    tasks = ctx.streams
    if current is not None:
        tasks.add(current)
    try:
        await _stream(ctx, user, request, response)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        if current is not None:
            tasks.discard(current)
    return response


async def _stream(
    ctx: BoardContext, user: User, request: web.Request, response: web.StreamResponse
) -> None:
    start = _start_id(request, await redis_millis(ctx))
    streams: dict[str, str] = {ctx.keys.live: start}
    rescanned = 0.0
    await response.write(b"retry: 3000\n: connected\n\n")
    while True:
        if time.monotonic() - rescanned > FEED_RESCAN_SECONDS:
            rescanned = time.monotonic()
            for key in await ctx.store.feed_keys(user):
                streams.setdefault(key, start)
        result: Any = await ctx.redis.xread(
            streams,  # type: ignore[arg-type]  # redis-py's annotation is invariant
            count=200,
            block=BLOCK_MS,
        )
        if not result:
            await response.write(b": ping\n\n")
            continue
        # The page re-reads what it shows right after this: no cached view from before it.
        ctx.store.invalidate()
        for key, entries in result:
            for entry_id, fields in entries:
                streams[key] = entry_id
                if key == ctx.keys.live:
                    if await _score_visible(ctx, user, fields):
                        data = {k: fields.get(k) for k in ("account_id", "score", "band")}
                        data["previous_score"] = fields.get("previous_score") or None
                        await response.write(_sse("score", entry_id, data))
                else:
                    await response.write(_sse("task", entry_id, _task_event(fields)))


async def cancel_streams(app: web.Application) -> None:
    """on_shutdown: end the open event streams so the server can stop."""
    for task in list(app[CONTEXT].streams):
        task.cancel()
