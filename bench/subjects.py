"""The processes under test: their environment, and (b) the faust noop app measured."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from measure import (
    COUNTER_INTERVAL_S,
    ProcessRun,
    Rate,
    completion_rate,
    follow_group,
    interior_rate,
    read_counts_file,
    say,
    spawn,
)
from workload import input_partitions

NOOP_APP = Path(__file__).resolve().parent / "noop_app.py"


def base_env(
    bootstrap: str, redis_url: str, partitions: int, args: argparse.Namespace
) -> dict[str, str]:
    """The environment of every subprocess: (b)'s noop app and the workers of (c)-(e) get
    the same partitions, timeouts and batch settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CS_")}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "REDIS_URL": redis_url,
            "CS_TOPIC_PARTITIONS": str(partitions),
            "CS_BATCH_MAX": str(args.batch_max),
            "CS_BATCH_WITHIN_MS": str(args.batch_within_ms),
            # The sample's events are dated 2026-08..10: a live clock (wall - lateness) would
            # move quiet partitions to today. Event time only, as a replay.
            "CS_ALLOWED_LATENESS": "off",
            "CS_REBALANCE_TIMEOUT_SECONDS": "2",
            # Tansu lets a new group's first join wait half the session timeout (15 s at
            # the default 30 s); 10 s, as in the demo, keeps start-up to about 5 s.
            "CS_SESSION_TIMEOUT_SECONDS": "10",
            "CS_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


WORKER_TOTALS = (
    "events_in_total",
    "duplicates",
    "dead_letters_total",
    "rerouted",
    "tasks_out_total",
    "health_scores_out",
    "batches",
    "late_events",
    "forced_releases",
    "batch_retries",
)


def worker_env(
    env: dict[str, str],
    args: argparse.Namespace,
    app_id: str,
    prefix: str,
    data_dir: Path,
    redis_prefix: str,
) -> dict[str, str]:
    wenv = dict(
        env,
        CS_APP_ID=app_id,
        CS_TOPIC_PREFIX=prefix,
        CS_WORKER_ID=f"{app_id}-1",
        CS_METRICS_INTERVAL_SECONDS=str(COUNTER_INTERVAL_S),
        CS_REDIS_PREFIX=redis_prefix,
        CS_DATA_DIR=str(data_dir),
    )
    if args.rules:
        wenv["CS_RULES_FILE"] = str(Path(args.rules).resolve())
    return wenv


async def measure_noop(
    mode: str,
    env: dict[str, str],
    run_id: str,
    prefix: str,
    workdir: Path,
    processes: list[ProcessRun],
    args: argparse.Namespace,
) -> tuple[Rate | None, Rate | None, Rate | None, float | None]:
    """(b): the faust noop app in `mode`, followed through its group's committed offsets."""
    n = args.events
    group = f"bench-{run_id}-noop-{mode}"
    counts = workdir / f"noop-{mode}.counts.jsonl"
    penv = dict(
        env,
        CS_APP_ID=group,
        CS_TOPIC_PREFIX=prefix,
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
            env["KAFKA_BOOTSTRAP_SERVERS"],
            group,
            input_partitions(prefix, args.partitions),
            n,
            args.timeout,
        )
    finally:
        proc.stop()
    return (
        interior_rate(proc.commits, n, "committed offsets"),
        completion_rate(proc.commits, n),
        interior_rate(read_counts_file(counts), n, "in-agent counter"),
        (proc.first_progress - proc.spawned) if proc.first_progress else None,
    )


def code_version(repo: Path) -> str:
    """The commit under test, and whether the worker's code differs from it (the figures
    belong to the code that ran, not to the commit)."""
    try:
        head = subprocess.run(
            ["git", "-C", str(repo), "log", "-1", "--format=%h %ad", "--date=format:%H:%M:%S"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(repo), "status", "--porcelain", "workers", "config", "events"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    changed = len(dirty.splitlines())
    return f"HEAD {head}" + (
        f" + {changed} uncommitted file(s) in workers/ config/ events/" if changed else ""
    )
