"""Throughput and latency benchmark of cs-signals on the embedded broker (not a test).

One run starts an embedded Tansu broker and Redis on free ports and measures, on the same N
events (the realistic demo sample, repeated and truncated to N), each set in its own topic
prefix and produced *before* its consumer starts, so only consumption is timed:

  (a) a bare aiokafka consumer loop that decodes every value with json.loads (in process);
  (b) a faust app whose agent does nothing (bench/noop_app.py, a subprocess configured like
      the worker), one event at a time (`iter`) and, optionally, in the worker's batches
      (`take`);
  (c) the full pipeline: a real `cs-signals worker` subprocess;
  (d) with (c)'s worker still running, p50/p99 latency from producing an NPS detractor to
      its `nps_detractor` task on playbook-tasks, under a steady paced load.

(b) and (c) are measured the same way, from outside: the consumer group's committed offsets,
polled every 0.1 s. Throughput is the slope between the first and the last *change* of the
committed count strictly inside the run (first commit > 0, last commit < N): group join,
start-up and the commit interval's rounding at either end are all excluded. A second,
in-process figure cross-checks it: the worker's ops-metrics `events_in_total` and the noop
app's own counter, both sampled every second. See bench/README.md.

    python bench/throughput.py                       # N=200,000, 20 s of latency at 1,000/s
    python bench/throughput.py --events 100000 --skip-latency
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from events.models import INBOUND_TOPICS
from workers.local.embedded import EmbeddedBroker, EmbeddedRedis
from workers.local.processes import sigterm_as_interrupt, stop_process
from workers.local.sample import generate_sample
from workers.stream.kafka_io import ensure_topics

BENCH_DIR = Path(__file__).resolve().parent
NOOP_APP = BENCH_DIR / "noop_app.py"
TOPIC_OF_TYPE = {
    "usage": "usage-events",
    "ticket": "ticket-events",
    "nps": "nps-events",
    "account": "account-events",
}
SAMPLE_SPAN = timedelta(weeks=8)  # generate_sample() default: eight weeks from 2026-08-31
POLL_INTERVAL_S = 0.1
COUNTER_INTERVAL_S = 1.0

Record = tuple[str, bytes, bytes]  # (un-prefixed topic, key, value)


class BenchError(RuntimeError):
    pass


# ---- events --------------------------------------------------------------------------------


def _shift_date(text: str, days: int) -> str:
    return (date.fromisoformat(text) - timedelta(days=days)).isoformat()


def build_events(n: int) -> tuple[list[Record], Counter[str], str]:
    """The demo sample repeated (each copy earlier by its 8-week span, with its own event
    ids, so the stream stays in event-time order and nothing is a duplicate by accident)
    and truncated to n. Returns the records, counts by type and the last occurred_at."""
    base = generate_sample()
    reps = max(1, math.ceil(n / len(base)))
    records: list[Record] = []
    kinds: Counter[str] = Counter()
    last = ""
    for rep in range(reps):
        back = reps - 1 - rep  # the last repetition is the sample itself
        days = back * SAMPLE_SPAN.days
        for event in base:
            if len(records) >= n:
                break
            fields = {k: v for k, v in event.items() if k != "type"}
            if back:
                moment = datetime.fromisoformat(fields["occurred_at"]) - timedelta(days=days)
                fields["occurred_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
                fields["event_id"] = f"{fields['event_id']}.r{back}"
                for name in ("contract_start", "renewal_date"):
                    if isinstance(fields.get(name), str):
                        fields[name] = _shift_date(fields[name], days)
            kinds[event["type"]] += 1
            last = max(last, fields["occurred_at"])
            records.append(
                (
                    TOPIC_OF_TYPE[event["type"]],
                    fields["account_id"].encode(),
                    json.dumps(fields, separators=(",", ":")).encode(),
                )
            )
    return records, kinds, last


def input_partitions(prefix: str, partitions: int) -> list[TopicPartition]:
    return [TopicPartition(prefix + t, p) for t in INBOUND_TOPICS for p in range(partitions)]


async def produce(
    bootstrap: str, prefix: str, records: Sequence[Record]
) -> tuple[float, dict[TopicPartition, int]]:
    """Publish records (keyed by account, default murmur2 partitioner, as the Java client
    and `cs-signals produce` do); return the seconds it took and each partition's end offset
    as acknowledged by the broker.

    The end offsets come from the produce acknowledgements on purpose: this Tansu build
    answers ListOffsets(latest) with the *last batch's base offset + 1*, not the log end,
    whenever a producer batched several records (see bench/README.md).
    """
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    started = time.perf_counter()
    ends: dict[TopicPartition, int] = {}

    def note(results: list[Any]) -> None:
        for meta in results:
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)

    try:
        pending: list[asyncio.Future[Any]] = []
        for topic, key, value in records:
            pending.append(await producer.send(prefix + topic, value=value, key=key))
            if len(pending) >= 20_000:
                note(await asyncio.gather(*pending))
                pending.clear()
        note(await asyncio.gather(*pending))
    finally:
        await producer.stop()
    return time.perf_counter() - started, ends


# ---- measurements --------------------------------------------------------------------------


@dataclass
class Rate:
    events: int  # events counted inside the window
    seconds: float
    how: str

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


def interior_rate(samples: Sequence[tuple[float, int]], total: int, how: str) -> Rate | None:
    """Slope between the first change with 0 < n and the last change with n < total.

    `samples` are (time, count) observations; only the first observation of each distinct
    count is used, so a counter that is sampled or committed periodically is read at the
    moments it moved. Falls back to first-progress -> completion when the run was too short
    to have two interior points.
    """
    changes: list[tuple[float, int]] = []
    for t, n in samples:
        if not changes or n != changes[-1][1]:
            changes.append((t, n))
    inside = [(t, n) for t, n in changes if 0 < n < total]
    if len(inside) >= 2 and inside[-1][0] > inside[0][0]:
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return Rate(n1 - n0, t1 - t0, how)
    started = [(t, n) for t, n in changes if n > 0]
    done = [(t, n) for t, n in changes if n >= total]
    if started and done and done[0][0] > started[0][0]:
        (t0, n0), (t1, n1) = started[0], done[0]
        return Rate(n1 - n0, t1 - t0, how + " (first progress -> completion)")
    return None


def completion_rate(samples: Sequence[tuple[float, int]], total: int) -> Rate | None:
    """First observed progress -> first observation of completion (the pessimistic figure:
    it includes up to one commit interval of delay at the end)."""
    started = next(((t, n) for t, n in samples if n > 0), None)
    done = next(((t, n) for t, n in samples if n >= total), None)
    if started is None or done is None or done[0] <= started[0]:
        return None
    return Rate(done[1] - started[1], done[0] - started[0], "first commit -> completion")


@dataclass
class BareResult:
    rate: Rate
    count: int


async def bare_consume(bootstrap: str, prefix: str, partitions: int, total: int) -> BareResult:
    """(a): aiokafka, all partitions assigned (no group), getmany + json.loads per value."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    await consumer.start()
    try:
        tps = input_partitions(prefix, partitions)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        count = 0
        samples: list[tuple[float, int]] = []
        deadline = time.monotonic() + 120
        decoded = 0
        while count < total:
            if time.monotonic() > deadline:
                raise BenchError(f"(a) consumed only {count:,} of {total:,} events in 120 s")
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for messages in batches.values():
                for message in messages:
                    decoded += len(json.loads(message.value))
                count += len(messages)
            samples.append((time.perf_counter(), count))
    finally:
        await consumer.stop()
    # First batch -> last batch: the first batch's events are not counted, nor its wait.
    (t0, n0), (t1, n1) = next(s for s in samples if s[1] > 0), samples[-1]
    return BareResult(Rate(n1 - n0, t1 - t0, "first batch -> last batch, in process"), count)


@dataclass
class ProcessRun:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    spawned: float  # time.time()
    commits: list[tuple[float, int]] = field(default_factory=list)
    first_progress: float | None = None
    completed: float | None = None

    def stop(self, timeout: float = 15.0) -> None:
        stop_process(self.proc, timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def spawn(
    name: str, argv: list[str], env: dict[str, str], workdir: Path, log_path: Path
) -> ProcessRun:
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=workdir,  # no developer .env is picked up from the repo
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop it (finally)
        )
    return ProcessRun(name, proc, log_path, time.time())


async def follow_group(
    run: ProcessRun,
    bootstrap: str,
    group: str,
    tps: list[TopicPartition],
    total: int,
    timeout: float,
    on_first_progress: Any = None,
) -> None:
    """Poll `group`'s committed offsets every POLL_INTERVAL_S until they reach `total`."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    offsets: dict[TopicPartition, Any] = {}
    try:
        deadline = time.monotonic() + timeout
        while True:
            if run.proc.poll() is not None:
                raise BenchError(
                    f"{run.name} exited with code {run.proc.returncode}; log tail:\n"
                    + run.log_tail()
                )
            if time.monotonic() > deadline:
                last = run.commits[-1][1] if run.commits else 0
                detail = ", ".join(
                    f"{tp.topic}/{tp.partition}={meta.offset if meta else None}"
                    for tp, meta in sorted(offsets.items())
                )
                raise BenchError(
                    f"{run.name}: committed {last:,} of {total:,} events within {timeout:.0f}s "
                    f"({detail}); log tail:\n" + run.log_tail()
                )
            before = time.time()
            try:
                offsets = await asyncio.wait_for(
                    admin.list_consumer_group_offsets(group, partitions=tps), timeout=5
                )
            except Exception:  # the group may not exist yet; a slow answer counts as none
                offsets = {}
            after = time.time()
            committed = sum(max(0, meta.offset) for meta in offsets.values() if meta)
            moment = (before + after) / 2
            run.commits.append((moment, committed))
            if committed > 0 and run.first_progress is None:
                run.first_progress = moment
                if on_first_progress is not None:
                    on_first_progress()
            if committed >= total:
                run.completed = moment
                return
            await asyncio.sleep(POLL_INTERVAL_S)
    finally:
        await admin.close()


def read_counts_file(path: Path) -> list[tuple[float, int]]:
    samples: list[tuple[float, int]] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(ValueError, KeyError):
                row = json.loads(line)
                samples.append((float(row["t"]), int(row["n"])))
    return samples


async def read_ops_metrics(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every snapshot published to `topic` until now (the worker keeps publishing, so read
    until a message newer than the call, or until the topic is idle)."""
    until_ms = time.time() * 1000
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    snapshots: list[dict[str, Any]] = []
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=1500)
            if not batches:
                return snapshots
            for messages in batches.values():
                for message in messages:
                    if message.timestamp >= until_ms:
                        return snapshots
                    with contextlib.suppress(ValueError):
                        snapshots.append(json.loads(message.value))
    finally:
        await consumer.stop()


def metrics_samples(snapshots: list[dict[str, Any]]) -> list[tuple[float, int]]:
    samples = []
    for snap in snapshots:
        with contextlib.suppress(KeyError, ValueError, TypeError):
            at = datetime.fromisoformat(snap["at"]).timestamp()
            samples.append((at, int(snap["events_in_total"])))
    return sorted(samples)


# ---- latency -------------------------------------------------------------------------------


@dataclass
class LatencyResult:
    latencies_ms: list[float]
    missing: int
    warmup_samples: int
    warmup_max_ms: float | None
    sent: int
    send_seconds: float
    tasks_seen: int


async def measure_latency(
    bootstrap: str,
    prefix: str,
    partitions: int,
    accounts: list[str],
    *,
    seconds: float,
    warmup: float,
    rate: float,
    nps_every: int,
    run_id: str,
    event_time_from: datetime | None,
) -> LatencyResult:
    """(d): paced usage events for the sample's accounts plus, every `nps_every`-th event, an
    NPS detractor (score 2) for a fresh account; latency = arrival of that account's first
    nps_detractor task on playbook-tasks - the moment the NPS event was handed to the
    producer. The Kafka timestamp is the wall clock; occurred_at is the wall clock too when
    `event_time_from` is None, else `event_time_from` + the time elapsed since (d) began, so
    event time runs on seamlessly from the throughput sample and no catch-up is triggered."""
    tasks_tp = [TopicPartition(prefix + "playbook-tasks", p) for p in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await consumer.start()
    await producer.start()
    sent_at: dict[str, float] = {}  # account -> send time (measured ones)
    warm_sent_at: dict[str, float] = {}
    latencies: list[float] = []
    warm_latencies: list[float] = []
    seen = 0
    stop = asyncio.Event()
    try:
        consumer.assign(tasks_tp)
        await consumer.seek_to_end(*tasks_tp)
        for tp in tasks_tp:  # resolve the end offsets now, before anything is sent
            await consumer.position(tp)

        async def read_tasks() -> None:
            nonlocal seen
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=50)
                arrived = time.time()
                for messages in batches.values():
                    for message in messages:
                        seen += 1
                        task = json.loads(message.value)
                        if task.get("playbook") != "nps_detractor":
                            continue
                        account = task.get("account_id")
                        if account in sent_at:
                            latencies.append((arrived - sent_at.pop(account)) * 1000)
                        elif account in warm_sent_at:
                            warm_latencies.append((arrived - warm_sent_at.pop(account)) * 1000)

        reader = asyncio.create_task(read_tasks())
        usage_topic = prefix + "usage-events"
        nps_topic = prefix + "nps-events"
        total = int(rate * (warmup + seconds))
        sent = 0
        started = time.perf_counter()
        while sent < total:
            due = min(total, int((time.perf_counter() - started) * rate) + 1)
            while sent < due:
                index = sent
                sent += 1
                now = time.time()
                moment = (
                    datetime.fromtimestamp(now, UTC)
                    if event_time_from is None
                    else event_time_from + timedelta(seconds=time.perf_counter() - started)
                )
                stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                if index % nps_every == nps_every - 1:
                    account = f"bench-{run_id}-nps-{index}"
                    body = {
                        "event_id": f"bench-{run_id}-n-{index}",
                        "account_id": account,
                        "occurred_at": stamp,
                        "score": 2,
                        "respondent_id": f"{account}-user-1",
                        "comment": "benchmark detractor",
                    }
                    topic = nps_topic
                    measured = time.perf_counter() - started >= warmup
                    (sent_at if measured else warm_sent_at)[account] = time.time()
                else:
                    account = accounts[index % len(accounts)]
                    body = {
                        "event_id": f"bench-{run_id}-u-{index}",
                        "account_id": account,
                        "occurred_at": stamp,
                        "user_id": f"{account}-user-{index % 7:03d}",
                        "feature": ("dashboards", "reports", "alerts", "search")[index % 4],
                        "quantity": 1,
                    }
                    topic = usage_topic
                await producer.send(
                    topic,
                    key=account.encode(),
                    value=json.dumps(body, separators=(",", ":")).encode(),
                    timestamp_ms=int(now * 1000),
                )
            await asyncio.sleep(0.002)
        await producer.flush()
        send_seconds = time.perf_counter() - started
        deadline = time.monotonic() + 15
        while (sent_at or warm_sent_at) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        stop.set()
        await reader
    finally:
        stop.set()
        await producer.stop()
        await consumer.stop()
    return LatencyResult(
        latencies_ms=sorted(latencies),
        missing=len(sent_at),
        warmup_samples=len(warm_latencies),
        warmup_max_ms=max(warm_latencies) if warm_latencies else None,
        sent=sent,
        send_seconds=send_seconds,
        tasks_seen=seen,
    )


def worker_latency(snapshots: list[dict[str, Any]], start: float, end: float) -> dict[str, Any]:
    """The worker's own per-interval latency figures from ops-metrics snapshots taken
    inside [start, end + one interval]."""
    p50s: list[float] = []
    p99s: list[float] = []
    count = 0
    inside: list[dict[str, Any]] = []
    for snap in snapshots:
        with contextlib.suppress(KeyError, ValueError, TypeError):
            at = datetime.fromisoformat(snap["at"]).timestamp()
            if not start <= at <= end + COUNTER_INTERVAL_S:
                continue
            inside.append(snap)
            figures = snap["processing_latency_ms"]
            if figures.get("count"):
                p50s.append(float(figures["p50"]))
                p99s.append(float(figures["p99"]))
                count += int(figures["count"])
    if not p50s:
        return {}
    p50s.sort()
    batches = inside[-1].get("batches", 0) - inside[0].get("batches", 0)
    events = inside[-1].get("events_in_total", 0) - inside[0].get("events_in_total", 0)
    return {
        "snapshots": len(p50s),
        "count": count,
        "p50": pct(p50s, 0.5),
        "p99": max(p99s),
        "batches": batches,
        "events": events,
        "seconds": datetime.fromisoformat(inside[-1]["at"]).timestamp()
        - datetime.fromisoformat(inside[0]["at"]).timestamp(),
    }


def pct(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of sorted values."""
    if not values:
        return float("nan")
    rank = max(1, math.ceil(fraction * len(values)))
    return values[rank - 1]


# ---- profiling (optional) ------------------------------------------------------------------


_OURS = ("workers/", "events/", "config/")
_ENTRY = ("workers/cli/",)  # every stack passes through these
_IDLE_LEAVES = ("EpollSelector.select", "select.epoll.poll")
_PACKAGES = (
    "workers/",
    "events/",
    "config/",
    "faust/",
    "mode/",
    "aiokafka/",
    "kafka/",
    "asyncio/",
    "json/",
    "pydantic",
    "redis/",
    "structlog/",
)


def summarize_py_spy(path: Path, repo: Path, top: int = 15) -> str:
    """Top functions (inclusive and self) from py-spy's raw (collapsed-stack) output.

    Samples whose innermost frame is the event loop's select() are the worker waiting for
    I/O; they are counted apart and left out of the percentages (which are of busy time).
    """
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(frame, repo) for frame in stack.split(";")]
        total += count
        if frames[-1].endswith(_IDLE_LEAVES):
            idle += count
            continue
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
        package = next((p for p in _PACKAGES if p in frames[-1]), "other")
        by_package[package.rstrip("/")] += count
    busy = total - idle
    if not busy:
        return "  (no samples)"
    share = 100 / busy
    ours = [
        (n, c)
        for n, c in inclusive.most_common()
        if n.startswith(_OURS) and not n.startswith(_ENTRY)
    ]
    lines = [
        f"  {total:,} samples; {100 * idle / total:.0f}% waiting in select(),"
        " the rest (busy) is 100% below",
        "  self time by package: "
        + ", ".join(f"{name} {c * share:.0f}%" for name, c in by_package.most_common(9)),
        "  inclusive, project code (workers/ events/ config/):",
    ]
    lines += [f"    {c * share:5.1f}%  {n}" for n, c in ours[:top]]
    lines.append("  self time, anywhere:")
    lines += [f"    {c * share:5.1f}%  {n}" for n, c in own.most_common(top)]
    return "\n".join(lines)


def start_py_spy(binary: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [binary, "record", "--pid", str(pid), "--format", "raw", "--rate", "200", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def finish_py_spy(profiler: subprocess.Popen[bytes], out: Path, repo: Path) -> str | None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
    try:
        profiler.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stop_process(profiler)
    return summarize_py_spy(out, repo) if out.exists() else None


def _frame_name(frame: str, repo: Path) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)".
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file, _, _line = where.rpartition(":")
    file = file or where
    for root in (str(repo) + "/", "site-packages/"):
        if root in file:
            file = file.split(root, 1)[1]
            break
    return f"{file}:{name}" if file else name


# ---- the run -------------------------------------------------------------------------------


def base_env(bootstrap: str, redis_url: str, partitions: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CS_")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDIS_URL": redis_url,
            "CS_TOPIC_PARTITIONS": str(partitions),
            "CS_REBALANCE_TIMEOUT_SECONDS": "2",
            # Tansu lets a new group's first join wait half the session timeout (15 s at
            # the default 30 s); 10 s, as in the demo, keeps start-up to about 5 s.
            "CS_SESSION_TIMEOUT_SECONDS": "10",
            "CS_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


@dataclass
class Report:
    n: int
    partitions: int
    kinds: Counter[str]
    produce_rate: float | None = None
    bare: BareResult | None = None
    noop: dict[str, tuple[Rate | None, Rate | None, Rate | None, float | None]] = field(
        default_factory=dict
    )
    worker: tuple[Rate | None, Rate | None, Rate | None, float | None] | None = None
    worker_totals: dict[str, Any] = field(default_factory=dict)
    latency: LatencyResult | None = None
    latency_settings: str = ""
    worker_latency: dict[str, Any] = field(default_factory=dict)
    profiles: dict[str, str] = field(default_factory=dict)
    logs: Path | None = None


def _fmt_rate(rate: Rate | None) -> str:
    if rate is None:
        return "n/a"
    return f"{rate.per_second:>9,.0f} ev/s   ({rate.events:,} events in {rate.seconds:.2f} s)"


def print_report(report: Report) -> None:
    out = print
    out("")
    out("=" * 78)
    out("cs-signals throughput benchmark (embedded Tansu broker, one machine)")
    out("=" * 78)
    mix = ", ".join(f"{k} {v:,}" for k, v in report.kinds.most_common())
    out(f"N = {report.n:,} events ({mix}); {report.partitions} partitions per input topic")
    out(f"CPU: {os.cpu_count()} cores; python {sys.version.split()[0]}")
    if report.produce_rate:
        out(f"(set-up) produce rate: {report.produce_rate:,.0f} ev/s")
    out("")
    out("Throughput (pure consumption of pre-produced events; start-up/group join excluded)")
    bare = report.bare.rate if report.bare else None
    out(f"  (a) bare aiokafka + json.loads   {_fmt_rate(bare)}")
    for mode, (rate, done, counter, startup) in report.noop.items():
        label = "(b) faust noop agent" if mode == "iter" else "(b') faust noop, take_events"
        out(f"  {label:<32} {_fmt_rate(rate)}")
        out(f"      cross-check, in-agent counter   {_fmt_rate(counter)}")
        out(f"      first commit -> completion      {_fmt_rate(done)}")
        if startup is not None:
            out(f"      start-up to first commit        {startup:.1f} s (excluded)")
    worker_rate: Rate | None = None
    if report.worker:
        worker_rate, done, counter, startup = report.worker
        out(f"  (c) cs-signals worker            {_fmt_rate(worker_rate)}")
        out(f"      cross-check, ops-metrics        {_fmt_rate(counter)}")
        out(f"      first commit -> completion      {_fmt_rate(done)}")
        if startup is not None:
            out(f"      start-up to first commit        {startup:.1f} s (excluded)")
        if report.worker_totals:
            totals = ", ".join(f"{k} {v:,}" for k, v in report.worker_totals.items())
            out(f"      worker totals: {totals}")
    primary = report.noop.get("iter") or next(iter(report.noop.values()), None)
    primary_b = primary[0] if primary else None
    out("")
    out("Ratios")
    if worker_rate and bare:
        out(f"  c/a  = {worker_rate.per_second / bare.per_second:.3f}")
    for mode, (rate, *_rest) in report.noop.items():
        if worker_rate and rate:
            name = "c/b " if mode == "iter" else "c/b'"
            verdict = ""
            if mode == "iter":
                ok = worker_rate.per_second / rate.per_second >= 0.5
                verdict = "  (target >= 0.5: " + ("met" if ok else "NOT met") + ")"
            out(f"  {name} = {worker_rate.per_second / rate.per_second:.3f}{verdict}")
    if primary_b and bare:
        out(f"  b/a  = {primary_b.per_second / bare.per_second:.3f}")
    out("")
    if report.latency is not None:
        lat = report.latency
        out(f"Latency, NPS detractor event -> nps_detractor task ({report.latency_settings})")
        out(
            f"  sent {lat.sent:,} events in {lat.send_seconds:.1f} s "
            f"({lat.sent / lat.send_seconds:,.0f} ev/s achieved); tasks seen {lat.tasks_seen:,}"
        )
        values = lat.latencies_ms
        out(f"  samples {len(values)}  (missing {lat.missing})")
        if values:
            out(
                f"  p50 {pct(values, 0.50):.1f} ms   p99 {pct(values, 0.99):.1f} ms   "
                f"max {values[-1]:.1f} ms   min {values[0]:.1f} ms"
            )
        if lat.warmup_samples:
            out(
                f"  warm-up (excluded): {lat.warmup_samples} samples, "
                f"max {lat.warmup_max_ms or 0:.1f} ms"
            )
    else:
        out("Latency: skipped (--skip-latency)")
    if report.worker_latency:
        wl = report.worker_latency
        out(
            f"  worker's own view (ops-metrics processing_latency_ms, Kafka timestamp -> "
            f"published; {wl['snapshots']} 1-s snapshots, {wl['count']} tasks): "
            f"median p50 {wl['p50']:.1f} ms, max p99 {wl['p99']:.1f} ms"
        )
        if wl["batches"] and wl["seconds"]:
            out(
                f"  worker batches meanwhile: {wl['batches']} in {wl['seconds']:.1f} s "
                f"({wl['seconds'] / wl['batches'] * 1000:.0f} ms apart, "
                f"{wl['events'] / wl['batches']:.0f} events each)"
            )
    for phase, summary in report.profiles.items():
        out("")
        out(f"py-spy profile of the worker during {phase} (that run's figures are perturbed):")
        out(summary)
    if report.logs:
        out("")
        out(f"logs kept in {report.logs}")
    out("=" * 78)


async def run(args: argparse.Namespace) -> Report:
    run_id = uuid.uuid4().hex[:8]
    n, partitions = args.events, args.partitions
    modes = [m for m in args.noop_modes.split(",") if m]
    workdir = Path(tempfile.mkdtemp(prefix="cs-signals-bench-"))
    report = Report(n=n, partitions=partitions, kinds=Counter())
    broker = EmbeddedBroker()
    store = EmbeddedRedis()
    processes: list[ProcessRun] = []
    profiler: subprocess.Popen[bytes] | None = None
    failed = True
    try:
        say(f"building {n:,} events from the demo sample ...")
        records, report.kinds, last_event_time = build_events(n)
        say("starting embedded broker and Redis ...")
        broker.start()
        store.start()
        bootstrap = broker.bootstrap
        prefixes = {name: f"bench-{run_id}-{name}." for name in ("a", "b", "c")}
        produce_seconds = 0.0
        for prefix in prefixes.values():
            ensure_topics(bootstrap, prefix, partitions)
            say(f"producing {n:,} events to {prefix}* ...")
            seconds, ends = await produce(bootstrap, prefix, records)
            produce_seconds += seconds
            have = sum(ends.values())
            if have != n:
                raise BenchError(f"{prefix}: {have:,} events on the broker, expected {n:,}")
        report.produce_rate = 3 * n / produce_seconds
        accounts = sorted({key.decode() for _t, key, _v in records})
        del records

        # (a)
        say("(a) bare aiokafka consumer ...")
        report.bare = await bare_consume(bootstrap, prefixes["a"], partitions, n)

        env = base_env(bootstrap, store.url, partitions)
        # (b)
        for mode in modes:
            group = f"bench-{run_id}-noop-{mode}"
            counts = workdir / f"noop-{mode}.counts.jsonl"
            penv = dict(
                env,
                CS_APP_ID=group,
                CS_TOPIC_PREFIX=prefixes["b"],
                BENCH_NOOP_MODE=mode,
                BENCH_COUNTS_FILE=str(counts),
                BENCH_COUNTS_INTERVAL=str(COUNTER_INTERVAL_S),
            )
            say(f"(b) faust noop agent ({mode}) ...")
            proc = spawn(
                f"noop app ({mode})",
                [sys.executable, str(NOOP_APP)],
                penv,
                workdir,
                workdir / f"noop-{mode}.log",
            )
            processes.append(proc)
            try:
                await follow_group(
                    proc,
                    bootstrap,
                    group,
                    input_partitions(prefixes["b"], partitions),
                    n,
                    args.timeout,
                )
            finally:
                proc.stop()
            report.noop[mode] = (
                interior_rate(proc.commits, n, "committed offsets"),
                completion_rate(proc.commits, n),
                interior_rate(read_counts_file(counts), n, "in-agent counter"),
                (proc.first_progress - proc.spawned) if proc.first_progress else None,
            )

        # (c)
        app_id = f"bench-{run_id}-worker"
        wenv = dict(
            env,
            CS_APP_ID=app_id,
            CS_TOPIC_PREFIX=prefixes["c"],
            CS_WORKER_ID="bench-worker-1",
            CS_METRICS_INTERVAL_SECONDS=str(COUNTER_INTERVAL_S),
            CS_REDIS_PREFIX=f"bench:{run_id}:",
        )
        if args.rules:
            wenv["CS_RULES_FILE"] = str(Path(args.rules).resolve())
        say("(c) cs-signals worker ...")
        worker = spawn(
            "cs-signals worker",
            [sys.executable, "-m", "workers.cli", "worker"],
            wenv,
            workdir,
            workdir / "worker.log",
        )
        processes.append(worker)
        profile_c = workdir / "worker-c.pyspy.txt"

        def start_profiler() -> None:
            nonlocal profiler
            if args.py_spy:
                profiler = start_py_spy(args.py_spy, worker.proc.pid, profile_c)

        await follow_group(
            worker,
            bootstrap,
            app_id,
            input_partitions(prefixes["c"], partitions),
            n,
            args.timeout,
            on_first_progress=start_profiler,
        )
        if profiler is not None:
            summary = finish_py_spy(profiler, profile_c, BENCH_DIR.parent)
            profiler = None
            if summary:
                report.profiles["(c)"] = summary
        await asyncio.sleep(COUNTER_INTERVAL_S * 1.5)  # one more snapshot, after completion
        snapshots = await read_ops_metrics(bootstrap, prefixes["c"] + "ops-metrics")
        if snapshots:
            last = snapshots[-1]
            report.worker_totals = {
                k: last.get(k)
                for k in (
                    "events_in_total",
                    "duplicates",
                    "dead_letters_total",
                    "rerouted",
                    "tasks_out_total",
                    "health_scores_out",
                    "batches",
                )
            }
        report.worker = (
            interior_rate(worker.commits, n, "committed offsets"),
            completion_rate(worker.commits, n),
            interior_rate(metrics_samples(snapshots), n, "ops-metrics events_in_total"),
            (worker.first_progress - worker.spawned) if worker.first_progress else None,
        )

        # (d)
        if not args.skip_latency:
            report.latency_settings = (
                f"{args.rate:,.0f} ev/s for {args.latency_seconds:.0f} s after "
                f"{args.warmup_seconds:.0f} s warm-up; 1 in {args.nps_every} an NPS detractor; "
                + ("wall-clock" if args.wall_clock_event_time else "continued")
                + " event time"
            )
            say(f"(d) latency: {report.latency_settings} ...")
            profile_d = workdir / "worker-d.pyspy.txt"
            if args.py_spy:
                profiler = start_py_spy(args.py_spy, worker.proc.pid, profile_d)
            window_start = time.time() + args.warmup_seconds
            report.latency = await measure_latency(
                bootstrap,
                prefixes["c"],
                partitions,
                accounts,
                seconds=args.latency_seconds,
                warmup=args.warmup_seconds,
                rate=args.rate,
                nps_every=args.nps_every,
                run_id=run_id,
                event_time_from=(
                    None
                    if args.wall_clock_event_time
                    else datetime.fromisoformat(last_event_time) + timedelta(seconds=1)
                ),
            )
            window_end = time.time()
            if profiler is not None:
                summary = finish_py_spy(profiler, profile_d, BENCH_DIR.parent)
                profiler = None
                if summary:
                    report.profiles["(d)"] = summary
            if worker.proc.poll() is not None:
                raise BenchError("the worker died during (d); log tail:\n" + worker.log_tail())
            await asyncio.sleep(COUNTER_INTERVAL_S * 1.5)
            snapshots = await read_ops_metrics(bootstrap, prefixes["c"] + "ops-metrics")
            report.worker_latency = worker_latency(snapshots, window_start, window_end)
        failed = False
        return report
    finally:
        if profiler is not None:
            stop_process(profiler)
        for proc in processes:
            proc.stop()
        store.stop()
        broker.stop()
        if args.keep_logs or failed:
            report.logs = workdir
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/throughput.py",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog="See bench/README.md for how to read the report.",
    )
    parser.add_argument("--events", type=int, default=200_000, help="N (default 200,000)")
    parser.add_argument("--partitions", type=int, default=4, help="per input topic (default 4)")
    parser.add_argument(
        "--noop-modes",
        default="iter,take",
        help="faust noop variants for (b): iter, take or both (default iter,take)",
    )
    parser.add_argument("--latency-seconds", type=float, default=20.0, help="default 20")
    parser.add_argument(
        "--warmup-seconds", type=float, default=3.0, help="paced load before (d) (default 3)"
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="(d) events/s (default 1000)")
    parser.add_argument(
        "--nps-every", type=int, default=50, help="(d) every k-th event is an NPS detractor"
    )
    parser.add_argument("--skip-latency", action="store_true", help="skip (d)")
    parser.add_argument(
        "--wall-clock-event-time",
        action="store_true",
        help="(d) stamps occurred_at with the wall clock instead of continuing the sample's "
        "event time (the worker then first catches up weeks of time-driven evaluations)",
    )
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        default=None,
        help="py-spy binary: profile the worker while (c) consumes (perturbs (c) slightly)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="give up on (b) or (c) after this many seconds (default 300)",
    )
    parser.add_argument(
        "--rules", metavar="FILE", default=None, help="CS_RULES_FILE for the worker in (c)/(d)"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the work dir and logs")
    args = parser.parse_args(argv)
    if args.events < 1000:
        parser.error("--events must be at least 1000")
    if not {m for m in args.noop_modes.split(",") if m} <= {"iter", "take"}:
        parser.error("--noop-modes: comma-separated iter and/or take")
    if args.rate <= 0 or args.latency_seconds <= 0 or args.nps_every < 2:
        parser.error("--rate and --latency-seconds must be > 0, --nps-every >= 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        with sigterm_as_interrupt():
            report = asyncio.run(run(args))
    except KeyboardInterrupt:
        say("interrupted; everything started was stopped")
        return 130
    except BenchError as exc:
        say(f"benchmark failed: {exc}")
        return 1
    print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
