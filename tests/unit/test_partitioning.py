from aiokafka.partitioner import DefaultPartitioner

from workers.stream.partitioning import partition_for


def test_matches_the_kafka_default_partitioner() -> None:
    partitioner = DefaultPartitioner()
    for n in (1, 4, 8, 12):
        for account in ("acme", "acct-001", "Ωmega", "x" * 100):
            key = account.encode()
            assert partition_for(key, n) == partitioner(key, list(range(n)), list(range(n)))
