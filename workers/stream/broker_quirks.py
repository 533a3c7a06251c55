"""Known deviations of the embedded broker (Tansu) from Apache Kafka, and how we detect it.

Tansu 0.6 reports a partition's end offset (ListOffsets "latest" and the fetch high
watermark) as the base offset of the *last record batch* + 1, not the offset after the last
record. Faust's changelog recovery reads "up to the end offset", so it would silently skip
the tail of the last batch and restore stale account state after a restart. On Tansu the
worker therefore closes every changelog write with a one-record marker batch (see app.py),
which makes the reported end offset true again. Real Kafka needs none of this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kafka import KafkaAdminClient

# A table key no account can have (account ids are validated, non-empty text without NUL).
CHANGELOG_MARKER_KEY = b"\x00cs-signals:end-of-batch"


def is_tansu(bootstrap: str, security: Mapping[str, Any] | None = None) -> bool:
    admin = KafkaAdminClient(
        bootstrap_servers=[s.strip() for s in bootstrap.split(",")], **dict(security or {})
    )
    try:
        cluster_id = str(admin.describe_cluster().get("cluster_id") or "")
    except Exception:  # an older broker without DescribeCluster is not Tansu
        return False
    finally:
        admin.close()
    return cluster_id.startswith("tansu")


def limit_fetch_wait(max_wait_ms: int) -> None:
    """Cap how long the worker's consumer lets the broker hold an empty fetch.

    faust creates its consumer with a fixed fetch_max_wait_ms of 1500. Apache Kafka answers a
    waiting fetch as soon as data arrives, so the value only matters when nothing does; Tansu
    was measured to hold every fetch for the full wait even when a record arrives meanwhile
    (events waited 0.5-1.2 s before the worker saw them). A short wait bounds that latency on
    any broker, at the price of a few more (empty) fetch requests while idle.
    """
    from faust.transport.drivers import aiokafka as driver

    thread = driver.AIOKafkaConsumerThread
    original = getattr(thread, "_cs_original_create_worker_consumer", None)
    if original is None:
        original = thread._create_worker_consumer
        thread._cs_original_create_worker_consumer = original  # type: ignore[attr-defined]

    def create(self: object, transport: object) -> object:
        consumer = original(self, transport)
        # read by AIOKafkaConsumer.start() when it builds its fetcher
        consumer._fetch_max_wait_ms = max_wait_ms
        return consumer

    thread._create_worker_consumer = create  # type: ignore[method-assign]
