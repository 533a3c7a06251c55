"""Which partition owns an account: the Java client's murmur2, as Kafka producers use by default.

The worker checks that every event sits on the partition its account hashes to, because
per-account state lives in the table partition of that number. Producers that partition
differently (librdkafka's default is CRC32) or send without a key are re-routed.
"""

from __future__ import annotations

from functools import lru_cache

from aiokafka.partitioner import murmur2


@lru_cache(maxsize=200_000)
def partition_for(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions
