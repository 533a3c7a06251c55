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

The parts, each run from here: workload.py (the events and producing them), measure.py (the
committed-offset slope and the (a) consumer), latency.py ((d)), hotspots.py (py-spy, optional)
and report.py (the printed report).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

from hotspots import finish_py_spy, start_py_spy
from latency import measure_latency, worker_latency
from measure import (
    COUNTER_INTERVAL_S,
    BenchError,
    ProcessRun,
    bare_consume,
    completion_rate,
    follow_group,
    interior_rate,
    metrics_samples,
    read_counts_file,
    read_ops_metrics,
    spawn,
)
from report import Report, print_report
from workers.local.embedded import EmbeddedBroker, EmbeddedRedis
from workers.local.processes import sigterm_as_interrupt, stop_process
from workers.stream.kafka_io import ensure_topics
from workload import build_events, input_partitions, produce

BENCH_DIR = Path(__file__).resolve().parent
NOOP_APP = BENCH_DIR / "noop_app.py"


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
