"""The board as a process: connect to Redis and Kafka, run the history ingester and the web
server side by side, stop cleanly on SIGTERM / SIGINT.

Exit codes: 0 stopped on request; 3 Kafka or Redis unreachable at start (or the port taken);
70 an unexpected error.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable
from typing import Any

from aiohttp import web
from redis.exceptions import RedisError

from config.settings import Settings
from workers.board.auth import UserDirectory
from workers.board.context import BoardContext
from workers.board.feedback import FeedbackPublisher
from workers.board.ingest import TOPICS, Ingester
from workers.board.keys import Keys
from workers.board.routes import build_app
from workers.board.sessions import SessionCodec
from workers.board.settings import BoardSettings
from workers.board.store import BoardStore
from workers.delivery import clients
from workers.delivery.consumer import Batch, CommitLoop, ensure_topics
from workers.delivery.retry import Stopping

EXIT_UNREACHABLE = 3
EXIT_CRASHED = 70
_CONNECT_TIMEOUT = 20.0


def board_group(settings: Settings) -> str:
    return f"{settings.app_id}-board"


async def run_board(
    settings: Settings,
    board: BoardSettings,
    users: UserDirectory,
    log: Any,
    ready: asyncio.Event | None = None,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    redis = clients.redis_client(settings)
    producer = clients.kafka_producer(settings)
    consumer = clients.kafka_consumer(settings, board_group(settings), start="earliest")
    runner: web.AppRunner | None = None
    started: list[Any] = []
    try:
        try:
            await asyncio.wait_for(redis.ping(), _CONNECT_TIMEOUT)
        except Exception as exc:
            log.error("redis_unreachable", error=str(exc))
            return EXIT_UNREACHABLE
        topics = [settings.topic(name) for name in TOPICS]
        try:
            admin = clients.kafka_admin(settings)
            await asyncio.wait_for(admin.start(), _CONNECT_TIMEOUT)
            try:
                await ensure_topics(
                    admin, topics, settings.topic_partitions, settings.topic_replication
                )
            finally:
                await admin.close()
            await asyncio.wait_for(producer.start(), _CONNECT_TIMEOUT)
            started.append(producer)
            await asyncio.wait_for(consumer.start(), _CONNECT_TIMEOUT)
            started.append(consumer)
        except Exception as exc:
            log.error("kafka_unreachable", bootstrap=settings.kafka_bootstrap_servers,
                      error=str(exc))
            return EXIT_UNREACHABLE
        keys = Keys(settings.redis_prefix)
        ctx = BoardContext(
            settings=board,
            users=users,
            codec=SessionCodec(board.secret, board.session_hours * 3600),
            redis=redis,
            keys=keys,
            store=BoardStore(redis, keys, board.clock),
            publisher=FeedbackPublisher(producer, settings.topic("task-feedback"), log),
            log=log,
        )
        ingester = Ingester(redis, keys, settings.topic_prefix, board.history, log)

        async def handle(batch: Batch) -> None:
            # Redis away: keep the batch (nothing committed) and try again.
            while True:
                try:
                    return await ingester(batch)
                except RedisError as exc:
                    log.warning("board_history_write_failed", error=str(exc))
                    if stop.is_set():
                        raise Stopping() from exc
                    await asyncio.sleep(2)

        loop_job = CommitLoop(consumer, topics, board_group(settings), handle, stop, log)
        runner = web.AppRunner(build_app(ctx), access_log=None, shutdown_timeout=3)
        await runner.setup()
        site = web.TCPSite(runner, board.host, board.port)
        try:
            await site.start()
        except OSError as exc:
            log.error("board_port_unavailable", host=board.host, port=board.port, error=str(exc))
            return EXIT_UNREACHABLE
        url = f"http://{board.host}:{board.port}/"
        log.info(
            "board_started",
            url=url,
            users=len(users.current()),
            trusted_header=board.trusted_header,
            clock=board.clock,
            group=board_group(settings),
        )
        if ready is not None:
            ready.set()
        try:
            await _first_done(loop_job.run(), stop.wait())
        except Exception as exc:
            log.exception("board_crashed", error=str(exc))
            return EXIT_CRASHED
        log.info("board_stopped")
        return 0
    finally:
        stop.set()
        if runner is not None:
            await _quietly(runner.cleanup())
        for client in reversed(started):
            await _quietly(client.stop())
        await _quietly(redis.aclose())


async def _first_done(*jobs: Awaitable[Any]) -> None:
    tasks = [asyncio.ensure_future(job) for job in jobs]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()


async def _quietly(closing: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(closing, 10)
