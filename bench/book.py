"""(e) a big book: one worker holding 100,000 accounts, its memory and local store, and how
long a SIGKILLed worker takes to publish its next task, restarted with its local store and
from an empty one (cold start: the whole changelog is restored).

The book: every account gets its facts (an account event) and a little activity (a few
usage events) on one day of event time, plus, a few days before, one enterprise account with
`big_users` daily active users (uuid-like ids), so the worker also writes the state of a
very large account. All of it is produced before the worker starts; it is followed through
its group's committed offsets like (c).

A restart is timed from the SIGKILL to the arrival, on playbook-tasks, of the
`nps_detractor` task of an NPS detractor (score 2) produced right after the kill for an
existing account of the book; the worker is restarted at once with the same CS_WORKER_ID
(static group membership) and, for "with local store", the same CS_DATA_DIR, for "cold
start" an empty one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from measure import BenchError, ProcessRun, Rate, follow_group, interior_rate, read_ops_metrics
from sizes import StoreSizes, disk_bytes, store_sizes
from workload import Record, input_partitions, produce

BOOK_DAY = datetime(2026, 10, 5, tzinfo=UTC)  # a Monday, inside the sample's weeks
SEGMENTS = ("smb", "mid_market", "enterprise")


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(topic: str, body: dict[str, Any]) -> Record:
    return (topic, body["account_id"].encode(), json.dumps(body, separators=(",", ":")).encode())


def book_account(i: int) -> str:
    return f"book-{i:06d}"


def _facts(account: str, i: int, moment: datetime, seats: int, champion: str) -> dict[str, Any]:
    return {
        "event_id": f"{account}-facts",
        "account_id": account,
        "occurred_at": _stamp(moment),
        "name": f"Book account {i}",
        "segment": SEGMENTS[i % 3],
        "licensed_seats": seats,
        "arr": 6_000.0 + 40 * (i % 1000),
        "csm_id": f"csm-{i % 50:02d}",
        "champion_user_id": champion,
        "contract_start": (BOOK_DAY - timedelta(days=30 + i % 700)).date().isoformat(),
        "renewal_date": (BOOK_DAY + timedelta(days=120 + i % 300)).date().isoformat(),
    }


def build_book(
    accounts: int, usage_per_account: int, big_users: int, big_days: int
) -> list[Record]:
    """The book's events in event-time order (see the module docstring)."""
    records: list[Record] = []
    if big_users and big_days:
        big = "book-big"
        users = [str(uuid.UUID(int=(11 << 64) + u)) for u in range(big_users)]
        first = BOOK_DAY - timedelta(days=big_days)
        records.append(
            _record("account-events", _facts(big, 0, first, big_users * 5 // 4, users[0]))
        )
        for day in range(big_days):
            start = first + timedelta(days=day, hours=8)
            step = min(1.5, 10 * 3600 / big_users)
            for u, user in enumerate(users):
                records.append(
                    _record(
                        "usage-events",
                        {
                            "event_id": f"{big}-d{day}-{u}",
                            "account_id": big,
                            "occurred_at": _stamp(start + timedelta(seconds=u * step)),
                            "user_id": user,
                            "feature": ("dashboards", "reports", "alerts", "exports")[u % 4],
                            "quantity": 1,
                        },
                    )
                )
    facts_span = 6 * 3600 / accounts
    for i in range(accounts):
        account = book_account(i)
        moment = BOOK_DAY + timedelta(seconds=i * facts_span)
        records.append(
            _record("account-events", _facts(account, i, moment, 10 + i % 90, f"{account}-u0"))
        )
    usage_span = 10 * 3600 / max(1, accounts * usage_per_account)
    for j in range(usage_per_account):
        for i in range(accounts):
            account = book_account(i)
            moment = BOOK_DAY + timedelta(hours=8, seconds=(j * accounts + i) * usage_span)
            records.append(
                _record(
                    "usage-events",
                    {
                        "event_id": f"{account}-u{j}",
                        "account_id": account,
                        "occurred_at": _stamp(moment),
                        "user_id": f"{account}-u{j % 3}",
                        "feature": ("dashboards", "reports", "alerts")[j % 3],
                        "quantity": 1,
                    },
                )
            )
    return records


def memory(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process, in bytes, from /proc/<pid>/status."""
    rss = peak = 0
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return rss, peak


def log_lines(path: Path, event: str) -> list[dict[str, Any]]:
    out = []
    with contextlib.suppress(OSError):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if f'"{event}"' not in line:
                continue
            with contextlib.suppress(ValueError):
                row = json.loads(line)
                if row.get("event") == event:
                    out.append(row)
    return out


def _log_time(row: dict[str, Any]) -> float:
    return datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00")).timestamp()


@dataclass
class Restart:
    label: str
    data_dir_bytes: int  # on disk when the worker was restarted
    kill_to_task: float | None  # SIGKILL -> the task arrived (the figure)
    spawn_to_start: float | None  # process spawned -> its `worker_starting` log line
    spawn_to_recovered: float | None  # spawned -> its last `partition_recovered`
    # worker_starting -> the first partition's recovery began (group join and assignment)
    join: float | None
    recovered_records: int
    recovery_seconds: float  # sum of the partitions' own recovery times
    partitions: int
    rss_after: int = 0


@dataclass
class BookResult:
    membership: str  # static (CS_STATIC_MEMBERSHIP=true) or dynamic
    accounts: int
    events: int
    big_users: int
    big_days: int
    usage_per_account: int
    produce_seconds: float = 0.0
    consume: Rate | None = None
    startup: float | None = None
    rss: int = 0
    rss_peak: int = 0
    disk: int = 0
    store: StoreSizes | None = None
    worker_state: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    restarts: list[Restart] = field(default_factory=list)


async def _tasks_consumer(bootstrap: str, prefix: str, partitions: int) -> AIOKafkaConsumer:
    tps = [TopicPartition(prefix + "playbook-tasks", p) for p in range(partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    consumer.assign(tps)
    await consumer.seek_to_end(*tps)
    for tp in tps:
        await consumer.position(tp)
    return consumer


async def timed_restart(
    label: str,
    old: ProcessRun,
    start_worker: Callable[[str], ProcessRun],
    data_dir: Path,
    *,
    bootstrap: str,
    prefix: str,
    partitions: int,
    account: str,
    occurred_at: datetime,
    timeout: float,
) -> tuple[Restart, ProcessRun]:
    """SIGKILL `old`, produce one NPS detractor for `account`, start a new worker at once
    and wait for that account's nps_detractor task."""
    consumer = await _tasks_consumer(bootstrap, prefix, partitions)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        on_disk = disk_bytes(data_dir)
        killed = time.time()
        os.kill(old.proc.pid, signal.SIGKILL)
        old.proc.wait()
        body = {
            "event_id": f"{account}-restart-{label.replace(' ', '-')}",
            "account_id": account,
            "occurred_at": _stamp(occurred_at),
            "score": 2,
            "respondent_id": f"{account}-u0",
            "comment": "benchmark detractor after a SIGKILL",
        }
        await producer.send_and_wait(
            prefix + "nps-events",
            key=account.encode(),
            value=json.dumps(body, separators=(",", ":")).encode(),
        )
        worker = start_worker(label)
        spawned = worker.spawned
        arrived = None
        deadline = time.monotonic() + timeout
        while arrived is None:
            if worker.proc.poll() is not None:
                raise BenchError(f"(e) {label}: the restarted worker exited:\n" + worker.log_tail())
            if time.monotonic() > deadline:
                raise BenchError(
                    f"(e) {label}: no task for {account} within {timeout:.0f} s; log tail:\n"
                    + worker.log_tail()
                )
            batches = await consumer.getmany(timeout_ms=50)
            now = time.time()
            for messages in batches.values():
                for message in messages:
                    task = json.loads(message.value)
                    if (task.get("playbook"), task.get("account_id")) == ("nps_detractor", account):
                        arrived = now
    finally:
        await producer.stop()
        await consumer.stop()
    await asyncio.sleep(2.0)
    starting = log_lines(worker.log_path, "worker_starting")
    recovered = log_lines(worker.log_path, "partition_recovered")
    restart = Restart(
        label=label,
        data_dir_bytes=on_disk,
        kill_to_task=arrived - killed,
        spawn_to_start=_log_time(starting[0]) - spawned if starting else None,
        spawn_to_recovered=max(_log_time(r) for r in recovered) - spawned if recovered else None,
        join=(
            min(_log_time(r) - float(r.get("seconds", 0)) for r in recovered)
            - _log_time(starting[0])
            if recovered and starting
            else None
        ),
        recovered_records=sum(int(r.get("records", 0)) for r in recovered),
        recovery_seconds=sum(float(r.get("seconds", 0)) for r in recovered),
        partitions=len(recovered),
        rss_after=memory(worker.proc.pid)[0],
    )
    return restart, worker


async def run_book(
    result: BookResult,
    *,
    bootstrap: str,
    prefix: str,
    partitions: int,
    app_id: str,
    data_root: Path,
    start_worker: Callable[[str, Path], ProcessRun],
    timeout: float,
    say: Callable[[str], None],
) -> ProcessRun:
    """Fill `result`; returns the last worker started (the caller stops it)."""
    say(f"(e) building the book: {result.accounts:,} accounts ...")
    records = build_book(
        result.accounts, result.usage_per_account, result.big_users, result.big_days
    )
    result.events = len(records)
    say(f"(e) producing {len(records):,} events to {prefix}* ...")
    result.produce_seconds, ends = await produce(bootstrap, prefix, records)
    del records
    if sum(ends.values()) != result.events:
        raise BenchError(f"(e) {sum(ends.values()):,} events on the broker of {result.events:,}")
    data_dir = data_root / "book-1"
    say(f"(e) one worker consumes the book (CS_DATA_DIR={data_dir}) ...")
    worker = start_worker("first start", data_dir)
    await follow_group(
        worker,
        bootstrap,
        app_id,
        input_partitions(prefix, partitions),
        result.events,
        timeout,
    )
    result.consume = interior_rate(worker.commits, result.events, "committed offsets")
    result.startup = (worker.first_progress - worker.spawned) if worker.first_progress else None
    await asyncio.sleep(3.0)  # a metrics snapshot after completion; the last batch committed
    result.rss, result.rss_peak = memory(worker.proc.pid)
    result.disk = disk_bytes(data_dir)
    snapshots = await read_ops_metrics(bootstrap, prefix + "ops-metrics")
    if snapshots:
        result.worker_state = snapshots[-1].get("state", {})
        result.cache = snapshots[-1].get("cache", {})
    evening = BOOK_DAY + timedelta(hours=21)
    say("(e) SIGKILL -> restart with the local store -> first new task ...")
    warm, worker = await timed_restart(
        "with local store",
        worker,
        lambda label: start_worker(label, data_dir),
        data_dir,
        bootstrap=bootstrap,
        prefix=prefix,
        partitions=partitions,
        account=book_account(7),
        occurred_at=evening,
        timeout=timeout,
    )
    result.restarts.append(warm)
    cold_dir = data_root / "book-2"
    say("(e) SIGKILL -> restart with an empty CS_DATA_DIR (cold start) -> first new task ...")
    cold, worker = await timed_restart(
        "cold start",
        worker,
        lambda label: start_worker(label, cold_dir),
        cold_dir,
        bootstrap=bootstrap,
        prefix=prefix,
        partitions=partitions,
        account=book_account(result.accounts // 2 + 11),
        occurred_at=evening + timedelta(minutes=30),
        timeout=timeout,
    )
    result.restarts.append(cold)
    worker.stop()
    result.store = store_sizes(data_dir, app_id)
    return worker
