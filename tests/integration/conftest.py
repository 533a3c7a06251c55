from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis

from tests.integration.harness import Namespace, OwnRedis, WorkerProcess
from workers.local.embedded import EmbeddedBroker, EmbeddedRedis

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def broker() -> Iterator[EmbeddedBroker]:
    with EmbeddedBroker() as running:
        yield running


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    # The machine's Redis when there is one (tests isolate by key prefix), else our own.
    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
        yield "redis://127.0.0.1:6379/0"
        return
    except redis.RedisError:
        pass
    with EmbeddedRedis() as running:
        yield running.url


@pytest.fixture
def ns(broker: EmbeddedBroker, redis_url: str) -> Iterator[Namespace]:
    namespace = Namespace(bootstrap=broker.bootstrap, redis_url=redis_url)
    yield namespace
    namespace.cleanup_redis()
    namespace.cleanup_data()


@pytest.fixture
def workers(ns: Namespace) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        worker.stop()
        if not os.environ.get("CS_KEEP_TEST_LOGS"):
            worker.log_path.unlink(missing_ok=True)


@pytest.fixture
def own_redis(ns: Namespace) -> Iterator[OwnRedis]:
    server = OwnRedis()
    server.start()
    shared, ns.redis_url = ns.redis_url, server.url
    yield server
    ns.redis_url = shared  # the shared Redis, for the namespace's own clean-up
    server.close()
