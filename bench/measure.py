"""Throughput measurement: (a) the bare consumer, subprocesses followed through their consumer
group's committed offsets, and the slope of a counter strictly inside the run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from workers.local.processes import stop_process
from workload import input_partitions

POLL_INTERVAL_S = 0.1
COUNTER_INTERVAL_S = 1.0


class BenchError(RuntimeError):
    pass


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


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
