"""Running one sink as a process: connect, make sure the topics exist, consume
`playbook-tasks` in the sink's own consumer group, run the sink's background jobs, stop
cleanly on SIGTERM / SIGINT.

Exit codes: 0 stopped on request; 2 CS_METRICS_PORT taken (/metrics: delivery/metrics.py);
3 Kafka or Redis unreachable at start (or a TLS/SASL mismatch); 4 the endpoint
refused our credentials (nothing committed past the last delivered batch); 70 an unexpected
error (nothing committed for the batch in hand).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiokafka import AIOKafkaProducer

from config.security import aiokafka_options
from config.settings import Settings
from workers.delivery import clients
from workers.delivery.consumer import (
    Batch,
    CommitLoop,
    DeadLetterPublisher,
    Sink,
    TaskHandler,
    ensure_topics,
    run_all,
)
from workers.delivery.metrics import DeliveryMetrics
from workers.delivery.retry import Fatal, Sleeper
from workers.delivery.settings import CommonSettings
from workers.stream.kafka_probe import probe

EXIT_BAD_CONFIG = 2
EXIT_UNREACHABLE = 3
EXIT_CREDENTIALS = 4
EXIT_CRASHED = 70
_CONNECT_TIMEOUT = 20.0


@dataclass
class Runtime:
    """What a sink is built from."""

    settings: Settings
    common: CommonSettings
    log: Any
    stop: asyncio.Event
    sleep: Sleeper
    redis: aioredis.Redis
    producer: AIOKafkaProducer
    session: aiohttp.ClientSession
    dead_letters: DeadLetterPublisher
    # Extra jobs that run beside the task loop until the process stops.
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    # Extra topics to consume with manual commits: (topic, group id, handler).
    extra_consumers: list[tuple[str, str, Callable[[Batch], Awaitable[None]]]] = field(
        default_factory=list
    )
    metrics: DeliveryMetrics = field(default_factory=DeliveryMetrics)

    def on_retry(self, error: Exception, wait: float) -> None:
        self.metrics.retry(error)
        self.log.info("delivery_retry", reason=str(error), wait_seconds=round(wait, 3))


async def run_sink(
    settings: Settings,
    common: CommonSettings,
    group_id: str,
    build: Callable[[Runtime], Sink],
    log: Any,
    *,
    start: str = "earliest",
    describe: dict[str, Any] | None = None,
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    tasks_topic = settings.topic("playbook-tasks")
    dead_topic = settings.topic("notify-dead-letters")
    feedback_topic = settings.topic("task-feedback")

    redis = clients.redis_client(settings)
    producer = clients.kafka_producer(settings)
    session: aiohttp.ClientSession | None = None
    consumers: list[Any] = []
    try:
        try:
            await asyncio.wait_for(redis.ping(), _CONNECT_TIMEOUT)
        except Exception as exc:
            log.error(
                "redis_unreachable", redis_url=_safe_redis(settings.redis_url), error=str(exc)
            )
            return EXIT_UNREACHABLE
        # A TLS / SASL setting that does not match the broker: say so now, not after a hang.
        problem = await asyncio.to_thread(
            probe, settings.kafka_bootstrap_servers, aiokafka_options(settings)
        )
        if problem:
            log.error(
                "kafka_unreachable", bootstrap=settings.kafka_bootstrap_servers, error=problem
            )
            return EXIT_UNREACHABLE
        try:
            admin = clients.kafka_admin(settings)
            await asyncio.wait_for(admin.start(), _CONNECT_TIMEOUT)
            try:
                await ensure_topics(
                    admin,
                    [tasks_topic, dead_topic, feedback_topic],
                    settings.topic_partitions,
                    settings.topic_replication,
                )
            finally:
                await admin.close()
            await asyncio.wait_for(producer.start(), _CONNECT_TIMEOUT)
        except Exception as exc:
            log.error(
                "kafka_unreachable", bootstrap=settings.kafka_bootstrap_servers, error=str(exc)
            )
            return EXIT_UNREACHABLE

        session = clients.http_session(common.http_timeout)
        metrics = DeliveryMetrics()
        runtime = Runtime(
            settings=settings,
            common=common,
            log=log,
            stop=stop,
            sleep=Sleeper(stop),
            redis=redis,
            producer=producer,
            session=session,
            dead_letters=DeadLetterPublisher(producer, dead_topic, log, metrics),
            metrics=metrics,
        )
        sink = build(runtime)
        metrics.sink = sink.name
        if settings.metrics_port:
            try:
                metrics.serve(settings.metrics_port)
            except OSError as exc:
                log.error(
                    "bad_metrics_port",
                    error=f"CS_METRICS_PORT={settings.metrics_port}: cannot listen ({exc}); "
                    "give each process on a host its own port, or 0 to turn /metrics off",
                )
                return EXIT_BAD_CONFIG
        jobs: list[Awaitable[None]] = []
        handler = TaskHandler(sink, runtime.dead_letters, log, metrics)
        plan = [(tasks_topic, group_id, handler, start)]
        plan += [(t, g, h, "earliest") for t, g, h in runtime.extra_consumers]
        for topic, group, handler, offset_reset in plan:
            consumer = clients.kafka_consumer(settings, group, start=offset_reset)
            consumers.append(consumer)
            await asyncio.wait_for(consumer.start(), _CONNECT_TIMEOUT)
            jobs.append(CommitLoop(consumer, [topic], group, handler, stop, log).run())
        jobs.extend(job() for job in runtime.background)
        log.info(
            "delivery_started",
            sink=sink.name,
            group=group_id,
            topic=tasks_topic,
            metrics_port=settings.metrics_port or None,
            **(describe or {}),
        )
        try:
            await run_all(_until_stopped(job, stop) for job in jobs)
        except Fatal as exc:
            log.error("credentials_refused", sink=sink.name, reason=exc.reason)
            return EXIT_CREDENTIALS
        except Exception as exc:
            log.exception("delivery_crashed", sink=sink.name, error=str(exc))
            return EXIT_CRASHED
        log.info("delivery_stopped", sink=sink.name)
        return 0
    finally:
        stop.set()
        for consumer in consumers:
            await _quietly(consumer.stop())
        await _quietly(producer.stop())
        if session is not None:
            await _quietly(session.close())
        await _quietly(redis.aclose())


async def _until_stopped(job: Awaitable[None], stop: asyncio.Event) -> None:
    """Run a job; whichever job ends first (or fails) ends the others."""
    try:
        await job
    finally:
        stop.set()


async def _quietly(closing: Awaitable[Any]) -> None:
    # Closing is best effort: we are exiting anyway.
    with contextlib.suppress(Exception):
        await asyncio.wait_for(closing, 10)


def _safe_redis(url: str) -> str:
    """The Redis URL without its password."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
