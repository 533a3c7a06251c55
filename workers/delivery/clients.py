"""Every client the sinks use is built here, one factory per kind, so connection options
(TLS, SASL, Redis ACL users) are added in one place for all of them."""

from __future__ import annotations

from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from config.security import aiokafka_options, redis_options
from config.settings import Settings

USER_AGENT = "cs-signals-delivery/1"


def _kafka_options(settings: Settings) -> dict[str, Any]:
    """Options every Kafka client shares: the cluster and its security settings."""
    return {"bootstrap_servers": settings.bootstrap_servers_list, **aiokafka_options(settings)}


def kafka_consumer(
    settings: Settings, group_id: str, *, start: str = "earliest"
) -> AIOKafkaConsumer:
    """A group member with manual commits: offsets move only when the caller commits. The
    caller subscribes it (with a rebalance listener)."""
    session_ms = int(settings.session_timeout_seconds * 1000)
    return AIOKafkaConsumer(
        **_kafka_options(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset=start,
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(100, session_ms // 3),
        rebalance_timeout_ms=int(settings.rebalance_timeout_seconds * 1000),
        # A batch may wait out long Retry-After answers before it asks for more.
        max_poll_interval_ms=900_000,
        max_poll_records=500,
    )


def kafka_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(**_kafka_options(settings), acks="all", linger_ms=5)


def kafka_admin(settings: Settings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**_kafka_options(settings))


def redis_client(settings: Settings) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        settings.redis_url,
        decode_responses=True,
        socket_connect_timeout=5,
        **redis_options(settings),
    )


def http_session(timeout_seconds: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout_seconds),
        headers={"User-Agent": USER_AGENT},
        raise_for_status=False,
    )
