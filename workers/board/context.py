"""What every request handler shares: settings, users, sessions, the store, the publisher."""

from __future__ import annotations

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


CONTEXT = web.AppKey("board_context", BoardContext)
