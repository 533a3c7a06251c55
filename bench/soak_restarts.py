"""Soak: SIGKILL a worker at random points of its batches, many times, while events flow; then
check that every expected task episode came out exactly once (not a test: minutes long).

    python bench/soak_restarts.py                 # 20 kills, 400 accounts
    python bench/soak_restarts.py --kills 40 --accounts 1000 --rate 40

Each account gets one NPS detractor (one expected `nps_detractor` episode) amid a stream of
usage events, on an embedded broker and the machine's Redis (or an embedded one). Small
batches (CS_BATCH_MAX=50) make the kills land inside batches. Reported:

- episodes expected / seen / missing, and episodes with more than one task id (duplicates:
  must be 0 — task ids are deterministic);
- identical redeliveries: the same `opened` message published twice. At-least-once delivery
  allows them (a kill after the outputs were acknowledged but before the state was committed
  replays the batch); consumers de-duplicate on (task_id, action). Counted, not hidden.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kafka import KafkaProducer  # noqa: E402

from tests.integration.harness import (  # noqa: E402
    Namespace,
    WorkerProcess,
    nps_event,
    read_topic,
    ts,
    usage_event,
)


def _redis_url() -> tuple[str, object | None]:
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=1).ping()
        return "redis://127.0.0.1:6379/0", None
    except redis.RedisError:
        from workers.local.embedded import EmbeddedRedis

        server = EmbeddedRedis().__enter__()
        return server.url, server


def _feed(ns: Namespace, accounts: int, rate: float, stop: threading.Event) -> None:
    producer = KafkaProducer(bootstrap_servers=ns.bootstrap, acks="all", linger_ms=5)
    rng = random.Random(11)
    try:
        for n in range(accounts):
            if stop.is_set():
                return
            account = f"soak-{n:05d}"
            day = n % 20
            for user in range(rng.randint(3, 12)):
                event = usage_event(account, f"u{user}", ts(day, 8))
                producer.send(ns.topic("usage-events"), key=account.encode(),
                              value=json.dumps(event).encode())
            detractor = nps_event(account, rng.randint(0, 6), ts(day, 9))
            producer.send(ns.topic("nps-events"), key=account.encode(),
                          value=json.dumps(detractor).encode())
            time.sleep(1 / rate)
        producer.flush()
    finally:
        producer.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20, help="SIGKILLs of the worker (20)")
    parser.add_argument("--accounts", type=int, default=400, help="accounts, one episode each")
    parser.add_argument("--rate", type=float, default=10.0, help="accounts fed per second")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    from workers.local.embedded import EmbeddedBroker

    rng = random.Random(args.seed)
    began = time.monotonic()
    with EmbeddedBroker() as broker:
        redis_url, embedded_redis = _redis_url()
        ns = Namespace(bootstrap=broker.bootstrap, redis_url=redis_url)
        ns.extra_env.update({"CS_BATCH_MAX": "50", "CS_BATCH_WITHIN_MS": "20"})
        worker = WorkerProcess(ns, "soak-1").start(timeout=90)
        stop = threading.Event()
        feeder = threading.Thread(target=_feed, args=(ns, args.accounts, args.rate, stop))
        feeder.start()
        kills = 0
        try:
            while kills < args.kills:
                time.sleep(rng.uniform(0.3, 2.5))
                worker.kill()
                kills += 1
                restarted = WorkerProcess(ns, "soak-1")
                restarted.log_path = worker.log_path
                worker = restarted.start(timeout=120)
                print(f"kill {kills}/{args.kills} at {time.monotonic() - began:.0f}s", flush=True)
            feeder.join()
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                tasks = read_topic(ns, "playbook-tasks", idle_ms=1500)
                seen = {t["account_id"] for t in tasks if t["playbook"] == "nps_detractor"}
                if len(seen) >= args.accounts:
                    break
                time.sleep(2)
        finally:
            stop.set()
            feeder.join()
            worker.stop()
            ns.cleanup_redis()
            ns.cleanup_data()
            if embedded_redis is not None:
                embedded_redis.__exit__(None, None, None)

    ids: dict[str, set[str]] = defaultdict(set)
    opened_messages: Counter[str] = Counter()
    for task in tasks:
        if task["playbook"] != "nps_detractor":
            continue
        ids[task["account_id"]].add(task["task_id"])
        if task["action"] == "opened":
            opened_messages[task["account_id"]] += 1
    missing = args.accounts - len(ids)
    duplicated = sum(1 for s in ids.values() if len(s) > 1)
    redelivered = sum(n - 1 for n in opened_messages.values() if n > 1)
    print(
        f"kills {kills}; episodes expected {args.accounts}, seen {len(ids)}, missing {missing}, "
        f"with more than one task id {duplicated}; identical redeliveries {redelivered}; "
        f"{time.monotonic() - began:.0f}s; worker log {worker.log_path}"
    )
    return 0 if missing == 0 and duplicated == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
