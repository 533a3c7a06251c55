"""What every request handler shares: settings, users, sessions, the store, the publisher."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from workers.board.auth import LoginLimiter, UserDirectory
from workers.board.feedback import FeedbackPublisher
from workers.board.keys import Keys
from workers.board.sessions import SessionCodec
from workers.board.settings import BoardSettings
from workers.board.store import BoardStore


@dataclass
class BoardContext:
    settings: BoardSettings
    users: UserDirectory
    codec: SessionCodec
    redis: aioredis.Redis
    keys: Keys
    store: BoardStore
    publisher: FeedbackPublisher | None
    log: Any
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    # The open event streams (workers/board/live.py), ended when the server stops.
    streams: set[asyncio.Task[Any]] = field(default_factory=set)


CONTEXT = web.AppKey("board_context", BoardContext)
