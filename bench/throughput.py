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
      its `nps_detractor` task on playbook-tasks, under a steady paced load spread over at
      least --latency-accounts accounts;
  (e) a book of --book accounts held by one worker: its RSS and local store on disk, then
      SIGKILL -> restart -> first new task, with its local store and cold (book.py);
and, offline with the pure core, the state bytes per account of the sample and the largest
state write of an account with 20,000 daily active users (sizes.py).

(b) and (c) are measured the same way, from outside: the consumer group's committed offsets,
polled every 0.1 s. Throughput is the slope between the first and the last *change* of the
committed count strictly inside the run (first commit > 0, last commit < N): group join,
start-up and the commit interval's rounding at either end are all excluded. A second,
in-process figure cross-checks it: the worker's ops-metrics `events_in_total` and the noop
app's own counter, both sampled every second. See bench/README.md.

    python bench/throughput.py                       # everything; the book takes minutes
    python bench/throughput.py --events 100000 --skip-latency --skip-book

The parts, each run from here: workload.py (the events and producing them), measure.py (the
committed-offset slope and the (a) consumer), latency.py ((d)), book.py ((e)), sizes.py (state
sizes), hotspots.py (py-spy, optional) and report.py (the printed report).
"""

from __future__ import annotations

import argparse
import asyncio
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

from book import BookResult, run_book
from config.settings import Settings
from core_cost import measure_core_cost
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
    read_ops_metrics,
    say,
    spawn,
)
from report import Report, print_report
from sizes import big_account, sample_sizes, store_sizes
from subjects import WORKER_TOTALS, base_env, code_version, measure_noop, worker_env
from workers.local.embedded import EmbeddedBroker, EmbeddedRedis
from workers.local.processes import sigterm_as_interrupt, stop_process
from workers.stream.kafka_io import ensure_topics
from workload import build_events, input_partitions, produce

BENCH_DIR = Path(__file__).resolve().parent


async def run(args: argparse.Namespace) -> Report:
    run_id = uuid.uuid4().hex[:8]
    n, partitions = args.events, args.partitions
    modes = [m for m in args.noop_modes.split(",") if m]
    workdir = Path(tempfile.mkdtemp(prefix="cs-signals-bench-"))
    # Every worker's CS_DATA_DIR lives here, and is deleted at the end whatever happens.
    data_root = Path(tempfile.mkdtemp(prefix="cs-signals-bench-data-"))
    report = Report(n=n, partitions=partitions, kinds=Counter())
    report.batch = (args.batch_max, args.batch_within_ms)
    report.code = code_version(BENCH_DIR.parent)
    broker = EmbeddedBroker()
    store = EmbeddedRedis()
    processes: list[ProcessRun] = []
    profiler: subprocess.Popen[bytes] | None = None
    failed = True
    try:
        if not args.skip_sizes:
            say("state sizes with the pure core: the sample ...")
            report.sample_sizes = sample_sizes()
            say(f"state sizes: one account with {args.big_users:,} daily users ...")
            report.big = big_account(args.big_users, args.size_days, args.batch_max)
        say(f"building {n:,} events from the demo sample ...")
        records, report.kinds, last_event_time = build_events(n)
        say("the pure core's own cost on these events, in process ...")
        report.core = measure_core_cost(records, partitions, args.rules)
        say("starting embedded broker and Redis ...")
        broker.start()
        store.start()
        bootstrap = broker.bootstrap
        prefixes = {name: f"bench-{run_id}-{name}." for name in ("a", "b", "c", "e")}
        produce_seconds = 0.0
        for name in "abc":
            prefix = prefixes[name]
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

        env = base_env(bootstrap, store.url, partitions, args)
        # (b)
        for mode in modes:
            report.noop[mode] = await measure_noop(
                mode, env, run_id, prefixes["b"], workdir, processes, args
            )

        # (c)
        app_id = f"bench-{run_id}-worker"
        data_c = data_root / "c"
        wenv = worker_env(env, args, app_id, prefixes["c"], data_c, f"bench:{run_id}:")
        say(f"(c) cs-signals worker (batches of {args.batch_max}, {args.batch_within_ms} ms) ...")
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
            report.worker_totals = {k: last.get(k) for k in WORKER_TOTALS}
            report.worker_state = dict(last.get("state") or {})
        report.worker = (
            interior_rate(worker.commits, n, "committed offsets"),
            completion_rate(worker.commits, n),
            interior_rate(metrics_samples(snapshots), n, "ops-metrics events_in_total"),
            (worker.first_progress - worker.spawned) if worker.first_progress else None,
        )

        # (d)
        if not args.skip_latency:
            event_time_from = (
                None
                if args.wall_clock_event_time
                else datetime.fromisoformat(last_event_time) + timedelta(seconds=1)
            )
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
                event_time_from=event_time_from,
                min_accounts=args.latency_accounts,
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
            if snapshots:
                report.worker_state = dict(snapshots[-1].get("state") or {})
        worker.stop()  # its store is read below; the book gets the machine to itself
        report.worker_store = store_sizes(data_c, app_id, set(accounts))

        # (e)
        if args.book:
            report.book = BookResult(
                membership=args.book_membership,
                accounts=args.book,
                events=0,
                big_users=args.big_users if args.book_big_days else 0,
                big_days=args.book_big_days,
                usage_per_account=args.book_usage,
            )
            book_app = f"bench-{run_id}-book"
            starts: list[str] = []
            ensure_topics(bootstrap, prefixes["e"], partitions)

            def start_book_worker(label: str, data_dir: Path) -> ProcessRun:
                benv = worker_env(env, args, book_app, prefixes["e"], data_dir, f"b:{run_id}:")
                if args.book_membership == "static":
                    benv["CS_STATIC_MEMBERSHIP"] = "true"
                starts.append(label)
                log = workdir / f"book-{len(starts)}.log"
                argv = [sys.executable, "-m", "workers.cli", "worker"]
                proc = spawn(f"book worker ({label})", argv, benv, workdir, log)
                processes.append(proc)
                return proc

            await run_book(
                report.book,
                bootstrap=bootstrap,
                prefix=prefixes["e"],
                partitions=partitions,
                app_id=book_app,
                data_root=data_root,
                start_worker=start_book_worker,
                timeout=args.book_timeout,
                say=say,
            )
        failed = False
        return report
    finally:
        if profiler is not None:
            stop_process(profiler)
        for proc in processes:
            proc.stop()
        store.stop()
        broker.stop()
        shutil.rmtree(data_root, ignore_errors=True)
        if args.keep_logs or failed:
            report.logs = workdir
            say(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


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
        "--warmup-seconds",
        type=float,
        default=5.0,
        help="paced load before (d), the new accounts' introduction included (default 5)",
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="(d) events/s (default 1000)")
    parser.add_argument(
        "--nps-every", type=int, default=50, help="(d) every k-th event is an NPS detractor"
    )
    parser.add_argument(
        "--latency-accounts",
        type=int,
        default=1000,
        help="(d) usage spread over at least this many accounts (default 1,000)",
    )
    parser.add_argument("--skip-latency", action="store_true", help="skip (d)")
    parser.add_argument(
        "--batch-max",
        type=int,
        default=Settings.model_fields["batch_max"].default,
        help="CS_BATCH_MAX for (b) and (c)-(e) alike (default: the worker's default)",
    )
    parser.add_argument(
        "--batch-within-ms",
        type=int,
        default=Settings.model_fields["batch_within_ms"].default,
        help="CS_BATCH_WITHIN_MS for (b) and (c)-(e) alike (default: the worker's default)",
    )
    parser.add_argument(
        "--book",
        type=int,
        default=100_000,
        metavar="ACCOUNTS",
        help="(e) accounts of the big book held by one worker (default 100,000; 0 skips)",
    )
    parser.add_argument("--skip-book", action="store_true", help="skip (e) (same as --book 0)")
    parser.add_argument(
        "--book-usage", type=int, default=2, help="(e) usage events per account (default 2)"
    )
    parser.add_argument(
        "--book-big-days",
        type=int,
        default=3,
        help="(e) days of a --big-users account in the book, before its day (default 3; 0: none)",
    )
    parser.add_argument(
        "--book-membership",
        choices=("static", "dynamic"),
        default="static",
        help="(e) static: CS_STATIC_MEMBERSHIP=true, the restarted worker rejoins as the same "
        "member CS_WORKER_ID, as docker-compose runs it (default); dynamic: the worker's default",
    )
    parser.add_argument(
        "--book-timeout",
        type=float,
        default=900.0,
        help="(e) give up on consuming the book, or on a restart's task, after S s (default 900)",
    )
    parser.add_argument(
        "--big-users",
        type=int,
        default=20_000,
        help="daily active users of the big account (offline, and in the book; default 20,000)",
    )
    parser.add_argument(
        "--size-days",
        type=int,
        default=35,
        help="days of the big account's offline state-size run (default 35)",
    )
    parser.add_argument(
        "--skip-sizes", action="store_true", help="skip the offline state sizes (pure core)"
    )
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
        help="py-spy binary (a path, or a name on PATH): profile the worker while (c) "
        "consumes (perturbs (c) slightly)",
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
    if args.skip_book:
        args.book = 0
    if args.events < 1000:
        parser.error("--events must be at least 1000")
    if not {m for m in args.noop_modes.split(",") if m} <= {"iter", "take"}:
        parser.error("--noop-modes: comma-separated iter and/or take")
    if args.rate <= 0 or args.latency_seconds <= 0 or args.nps_every < 2:
        parser.error("--rate and --latency-seconds must be > 0, --nps-every >= 2")
    if args.py_spy:
        # Checked now, not after minutes of producing and measuring (b).
        found = shutil.which(args.py_spy)
        if found is None:
            parser.error(
                f"--py-spy: {args.py_spy!r} is not an executable file nor a command on PATH "
                "(pip install py-spy)"
            )
        args.py_spy = found
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
