"""A faust app whose agent does nothing: the framework's own cost, for bench/throughput.py.

It is configured like the real worker (workers/stream/app.py: raw bytes, memory store, the same
commit interval, session and rebalance timeouts, consumer fetch wait, partitions and input
topics) but its agent only counts events, so the difference between this and
`cs-signals worker` on the same events is the pipeline's own work.

    BENCH_NOOP_MODE=iter   `async for _ in stream` (one event at a time; the classic "noop")
    BENCH_NOOP_MODE=take   `stream.take_events(CS_BATCH_MAX, within=CS_BATCH_WITHIN_MS)`,
                           i.e. the same batching the worker uses

Every BENCH_COUNTS_INTERVAL seconds (default 1) it appends `{"t": epoch, "n": count}` to
BENCH_COUNTS_FILE (when set), the same kind of counter the worker publishes on ops-metrics.
BENCH_NOOP_LOGLEVEL (default WARN) is faust's log level. Stop it with SIGTERM or Ctrl-C.
Run by bench/throughput.py; by hand:

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 CS_APP_ID=noop CS_TOPIC_PREFIX=b. \
        python bench/noop_app.py
"""

from __future__ import annotations

import json
import os
import sys
import time

import faust

try:  # the worker's input topics (the same subscription as the worker)
    from events.models import INBOUND_TOPICS
except ImportError:  # run outside the project
    INBOUND_TOPICS = ("usage-events", "ticket-events", "nps-events", "account-events")  # type: ignore[assignment]


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


def _same_fetch_wait_as_the_worker() -> None:
    """The worker caps its consumer's fetch wait (workers/stream/broker_quirks.py: Tansu holds
    a fetch for the full wait); the noop gets the same consumer, when this build has it."""
    try:
        from workers.stream.app import FETCH_MAX_WAIT_MS
        from workers.stream.broker_quirks import limit_fetch_wait
    except ImportError:
        return
    limit_fetch_wait(FETCH_MAX_WAIT_MS)


def build_app() -> faust.App:
    bootstrap = _env("KAFKA_BOOTSTRAP_SERVERS", "localhost:9092")
    app_id = _env("CS_APP_ID", "cs-signals-bench-noop")
    prefix = os.environ.get("CS_TOPIC_PREFIX", "")
    partitions = int(_env("CS_TOPIC_PARTITIONS", "8"))
    session_timeout = float(_env("CS_SESSION_TIMEOUT_SECONDS", "30"))
    rebalance_timeout = float(_env("CS_REBALANCE_TIMEOUT_SECONDS", "10"))
    batch_max = int(_env("CS_BATCH_MAX", "2000"))
    within = int(_env("CS_BATCH_WITHIN_MS", "50")) / 1000
    mode = _env("BENCH_NOOP_MODE", "iter")
    counts_file = os.environ.get("BENCH_COUNTS_FILE")
    counts_interval = float(_env("BENCH_COUNTS_INTERVAL", "1"))
    if mode not in ("iter", "take"):
        raise SystemExit(f"BENCH_NOOP_MODE={mode!r}: must be 'iter' or 'take'")
    _same_fetch_wait_as_the_worker()

    app = faust.App(
        app_id,
        broker=[f"kafka://{s.strip()}" for s in bootstrap.split(",") if s.strip()],
        store="memory://",
        topic_partitions=partitions,
        broker_session_timeout=session_timeout,
        broker_heartbeat_interval=max(1, int(session_timeout) // 10),
        broker_rebalance_timeout=rebalance_timeout,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=False,
        broker_commit_interval=1.0,
    )
    inputs = app.topic(
        *(prefix + name for name in INBOUND_TOPICS),
        key_type=bytes,
        value_type=bytes,
        partitions=partitions,
    )
    count = 0

    async def noop_iter(stream: faust.StreamT) -> None:
        nonlocal count
        async for _value in stream:
            count += 1

    async def noop_take(stream: faust.StreamT) -> None:
        nonlocal count
        async for events in stream.take_events(batch_max, within=within):
            count += len(events)

    app.agent(inputs, name="noop")(noop_take if mode == "take" else noop_iter)

    if counts_file:

        async def write_count() -> None:
            with open(counts_file, "a", encoding="utf-8") as out:
                out.write(json.dumps({"t": time.time(), "n": count}) + "\n")

        app.timer(counts_interval)(write_count)
    return app


def main() -> int:
    app = build_app()
    loglevel = _env("BENCH_NOOP_LOGLEVEL", "WARN")
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
