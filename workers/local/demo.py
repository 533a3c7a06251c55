"""`cs-signals demo`: the whole system on one machine, on a bundled realistic sample.

Starts an embedded broker (Tansu) and Redis on free ports and a real `cs-signals worker`
process against them, replays the sample, shows tasks as the worker raises them, prints a
summary from the live Redis view, and stops everything it started (also on Ctrl-C).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from contextlib import suppress
from pathlib import Path
from typing import Any

import redis
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from config.rules import load_rules
from config.settings import Settings
from events.models import EVENT_TYPES
from workers.local.embedded import EmbeddedBroker, EmbeddedRedis, free_port
from workers.local.processes import sigterm_as_interrupt, stop_process
from workers.local.sample import generate_sample
from workers.render import render_task
from workers.stream.kafka_io import ensure_topics, follow, make_producer

DEMO_APP_ID = "cs-signals-demo"
OVERALL_TIMEOUT_S = 170.0
QUIET_AFTER_DONE_S = 2.0

# A few deliberately broken messages, so the demo shows dead letters too.
BAD_MESSAGES: list[tuple[str, bytes]] = [
    (
        "nps-events",
        b'{"event_id": "bad-1", "account_id": "acct-001", "score": 11, '
        b'"occurred_at": "2026-09-01T10:00:00Z"}',
    ),
    (
        "usage-events",
        b'{"event_id": "bad-2", "account_id": "acct-002", "user_id": "u1", '
        b'"feature": "reports", "occurred_at": "2026-09-01 10:00:00"}',
    ),
    ("ticket-events", b'{"account_id": "acct-003", "ticket_id": "t-x", "status": "opened"'),
]


def _demo_env(
    broker: EmbeddedBroker, store: EmbeddedRedis, data_dir: Path, metrics_port: int
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CS_") or k == "CS_RULES_FILE"}
    # The embedded broker and Redis speak neither TLS nor SASL: drop a developer's connection
    # settings (KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_*, REDIS_URL_FILE, REDIS_SSL_*, ...).
    env = {k: v for k, v in env.items() if not k.startswith(("KAFKA_", "REDIS_"))}
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "REDIS_URL": store.url,
            "CS_APP_ID": DEMO_APP_ID,
            "CS_TOPIC_PARTITIONS": "4",
            "CS_REBALANCE_TIMEOUT_SECONDS": "2",
            "CS_SESSION_TIMEOUT_SECONDS": "10",
            "CS_METRICS_INTERVAL_SECONDS": "1",
            "CS_LOG_FORMAT": "json",
            "CS_WORKER_ID": "demo-worker-1",
            # The broker lives only as long as the demo: so does the worker's local store.
            "CS_DATA_DIR": str(data_dir),
            # The sample is dated 2026-08-31 .. 10-25: a live clock would make every account
            # look silent once the replay is done. Replays run on event time.
            "CS_ALLOWED_LATENESS": "off",
            "CS_METRICS_PORT": str(metrics_port),
        }
    )
    return env


def _follow_tasks(
    bootstrap: str, topic: str, sink: queue.Queue[dict[str, Any]], stop: threading.Event
) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    try:
        while not stop.is_set():
            for records in consumer.poll(timeout_ms=200).values():
                for record in records:
                    sink.put(json.loads(record.value))
    finally:
        consumer.close()


def _last_metrics(bootstrap: str) -> dict[str, Any] | None:
    latest: dict[str, Any] | None = None
    for _k, value, _p, _o in follow(
        bootstrap, "ops-metrics", from_beginning=True, idle_timeout=1.0
    ):
        latest = json.loads(value)
    return latest


def run_demo(
    accounts: int = 120,
    weeks: int = 8,
    quiet: bool = False,
    board: bool = False,
    notify_webhook: bool = False,
) -> int:
    console = Console(highlight=False)
    broker = EmbeddedBroker()
    store = EmbeddedRedis()
    worker: subprocess.Popen[bytes] | None = None
    notifier: Any = None  # --notify-webhook: workers/local/demo_notify.py
    stop = threading.Event()
    log_file = Path(tempfile.mkstemp(prefix="cs-signals-demo-worker-", suffix=".log")[1])
    data_dir = Path(tempfile.mkdtemp(prefix="cs-signals-demo-state-"))
    started = time.monotonic()
    with sigterm_as_interrupt():
        try:
            with console.status("Starting the embedded broker (Tansu) and Redis…"):
                broker.start()
                store.start()
            console.print(f"[green]✓[/] broker on {broker.bootstrap}, Redis on {store.url}")
            metrics_port = free_port()
            env = _demo_env(broker, store, data_dir, metrics_port)
            settings = Settings.from_env(env, env_file=None)
            ensure_topics(broker.bootstrap, "", settings.topic_partitions)
            with log_file.open("wb") as log_handle:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "workers.cli", "worker"],
                    env=env,
                    stdout=log_handle,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            console.print(
                f"[green]✓[/] worker started (pid {worker.pid}, log {log_file}, "
                f"Prometheus metrics http://127.0.0.1:{metrics_port}/metrics)"
            )
            if notify_webhook:
                from workers.local.demo_notify import DemoNotifier

                notifier = DemoNotifier(env).start()
                console.print(
                    f"[green]✓[/] webhook notifier started (cs-signals notify webhook "
                    f"{notifier.receiver.url}, log {notifier.log_file})"
                )

            events = generate_sample(accounts=accounts, weeks=weeks)
            sample_accounts = len({e["account_id"] for e in events})
            console.print(
                f"[green]✓[/] sample: {len(events):,} events, {sample_accounts} accounts, "
                f"{weeks} weeks"
            )
            tasks_q: queue.Queue[dict[str, Any]] = queue.Queue()
            follower = threading.Thread(
                target=_follow_tasks,
                args=(broker.bootstrap, "playbook-tasks", tasks_q, stop),
                daemon=True,
            )
            follower.start()
            tasks = _replay_and_watch(
                console, broker, store.url, settings, events, worker, tasks_q, quiet, log_file
            )
            if tasks is None:
                return 1
            _summary(console, store.url, settings, tasks, broker.bootstrap)
            if notifier is not None:
                with console.status("Waiting for the notifier to deliver every task action…"):
                    notifier.wait_caught_up(broker.bootstrap)
                notifier.print_report(console)
            console.print(f"[bold]Done in {time.monotonic() - started:.0f}s.[/]")
            if board:  # the CSM board over the running system, until Ctrl-C
                from workers.local.demo_board import serve_board

                return serve_board(console, env, worker)
            playbooks = {t["playbook"] for t in tasks}
            return 0 if len(playbooks) >= 2 else 1
        except KeyboardInterrupt:
            console.print("\n[yellow]Interrupted — stopping everything…[/]")
            return 130
        finally:
            stop.set()
            if notifier is not None:
                notifier.stop()
            stop_process(worker)
            store.stop()
            broker.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
            console.print("[dim]Stopped the worker, Redis and the broker.[/]")


def _replay_and_watch(
    console: Console,
    broker: EmbeddedBroker,
    store_url: str,
    settings: Settings,
    events: list[dict[str, Any]],
    worker: subprocess.Popen[bytes],
    tasks_q: queue.Queue[dict[str, Any]],
    quiet: bool,
    log_file: Path,
) -> list[dict[str, Any]] | None:
    producer = make_producer(broker.bootstrap)
    tasks: list[dict[str, Any]] = []
    deadline = time.monotonic() + OVERALL_TIMEOUT_S
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        produced = progress.add_task("publishing sample", total=len(events))
        for index, event in enumerate(events, start=1):
            body = {k: v for k, v in event.items() if k != "type"}
            producer.send(
                EVENT_TYPES[event["type"]],
                key=event["account_id"].encode(),
                value=json.dumps(body, separators=(",", ":")).encode(),
            )
            if index % 2000 == 0:
                progress.update(produced, completed=index)
        for topic, payload in BAD_MESSAGES:
            producer.send(topic, key=b"demo-bad-input", value=payload)
        producer.flush()
        producer.close()
        progress.update(produced, completed=len(events))
        expected = len(events) + len(BAD_MESSAGES)
        processed = progress.add_task("worker processing", total=expected)
        last_check = 0.0
        done_at: float | None = None
        while time.monotonic() < deadline:
            if worker.poll() is not None:
                console.print(
                    f"[red]The worker exited with code {worker.returncode}.[/] Last log lines:"
                )
                console.print(log_file.read_text(errors="replace")[-3000:])
                return None
            while True:
                try:
                    task = tasks_q.get_nowait()
                except queue.Empty:
                    break
                tasks.append(task)
                if done_at is not None:
                    done_at = time.monotonic()
                if not quiet:
                    progress.console.print(_colour(task))
            progress.update(
                processed, description=f"worker processing ({len(tasks):,} task messages)"
            )
            now = time.monotonic()
            if now - last_check >= 1.0:
                last_check = now
                handled, held = _events_handled(store_url, settings)
                progress.update(processed, completed=min(handled, expected))
                if handled >= expected and held == 0 and done_at is None:
                    done_at = now
            if done_at is not None and now - done_at >= QUIET_AFTER_DONE_S and tasks_q.empty():
                return tasks
            time.sleep(0.1)
    handled, held = _events_handled(store_url, settings)
    console.print(
        f"[red]The demo did not finish in time[/] ({handled:,} of {expected:,} messages handled, "
        f"{held:,} events waiting for the clock). Last worker log lines:"
    )
    console.print(log_file.read_text(errors="replace")[-3000:])
    return None


def _events_handled(redis_url: str, settings: Settings) -> tuple[int, int]:
    """(input messages the worker has finished with, valid events still waiting for the
    event-time clock), from the worker's own metrics snapshot.

    (Consumer-group offsets would be the usual measure, but the embedded broker under-reports
    end offsets; see broker_quirks.py.)"""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    raw = client.hget(f"{settings.redis_prefix}workers:{settings.worker_id}", "metrics")
    if not raw:
        return 0, 0
    snapshot = json.loads(raw)
    handled = int(snapshot.get("events_in_total", 0)) + int(snapshot.get("dead_letters_total", 0))
    return handled, int(snapshot.get("events_held", 0))


_PRIORITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


def _colour(task: dict[str, Any]) -> str:
    style = _PRIORITY_STYLE.get(task.get("priority", ""), "")
    line = render_task(task).replace("[", "\\[")
    if task.get("action") == "resolved":
        return f"[green]{line}[/]"
    return f"[{style}]{line}[/]" if style else line


def _summary(
    console: Console,
    redis_url: str,
    settings: Settings,
    tasks: list[dict[str, Any]],
    bootstrap: str,
) -> None:
    per_playbook: dict[str, Counter[str]] = defaultdict(Counter)
    latest: dict[str, dict[str, Any]] = {}
    for task in tasks:
        per_playbook[task["playbook"]][task["action"]] += 1
        latest[task["task_id"]] = task
    open_now = Counter(t["playbook"] for t in latest.values() if t["action"] != "resolved")
    table = Table(title="Tasks per playbook")
    for column in ("playbook", "opened", "updated", "resolved", "open now"):
        table.add_column(column, justify="right" if column != "playbook" else "left")
    # The whole catalogue, also what the sample did not raise (engagement included).
    with suppress(Exception):
        for playbook in load_rules(settings.rules_file).playbooks:
            per_playbook.setdefault(playbook, Counter())
    for playbook in sorted(per_playbook):
        counts = per_playbook[playbook]
        table.add_row(
            playbook,
            str(counts["opened"]),
            str(counts["updated"]),
            str(counts["resolved"]),
            str(open_now[playbook]),
        )
    console.print(table)

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = settings.redis_prefix
    ranking = client.zrange(f"{prefix}health:ranking", 0, 9, withscores=True)
    open_by_account: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for task in latest.values():
        if task["action"] != "resolved":
            open_by_account[task["account_id"]].append(task)
    order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
    risk = Table(title="Accounts most at risk")
    for column in ("account", "score", "band", "segment", "CSM", "top reason"):
        risk.add_column(column)
    for account_id, score in ranking:
        view = client.hgetall(f"{prefix}health:{account_id}")
        open_tasks = sorted(
            open_by_account.get(account_id, []), key=lambda t: order.get(t["priority"], 9)
        )
        reason = open_tasks[0]["reason"] if open_tasks else _weakest_component(view)
        risk.add_row(
            account_id,
            f"{score:.0f}",
            view.get("band", "?"),
            view.get("segment", ""),
            view.get("csm_id", ""),
            reason,
        )
    console.print(risk)
    with suppress(Exception):
        console.print(_csm_load(client, prefix))
    metrics = _last_metrics(bootstrap)
    if metrics:
        console.print(
            f"Worker: {metrics.get('events_in_total', 0):,} events in, "
            f"{metrics.get('duplicates', 0)} duplicates skipped, "
            f"{metrics.get('dead_letters_total', 0)} dead letters, "
            f"{metrics.get('tasks_out_total', 0):,} task messages out."
        )
    with suppress(Exception):
        feeds = client.keys(f"{prefix}feed:*")
        console.print(
            f"Redis: {client.zcard(f'{prefix}health:ranking')} accounts ranked, "
            f"{client.hlen(f'{prefix}tasks:open')} open tasks, {len(feeds)} CSM alert feeds."
        )


# DOMAIN.md: accounts per CSM the playbooks assume (smb accounts are pooled).
_CAPACITY = {"enterprise": 15, "mid_market": 40}


def _csm_load(client: redis.Redis, prefix: str) -> Table:
    """The CSM load view (workers/stream/csm_load.py): each CSM's book against the 1:15 / 1:40
    ratios, open tasks, and touchpoints and tasks opened in the latest week."""
    rows = []
    for csm in sorted(client.smembers(f"{prefix}csm:ids")):
        book = {
            seg: client.scard(f"{prefix}csm:{csm}:accounts:{seg}")
            for seg in ("enterprise", "mid_market", "smb")
        }
        used = sum(book[seg] / size for seg, size in _CAPACITY.items())
        weeks = sorted(k.rsplit(":", 1)[1] for k in client.keys(f"{prefix}csm:{csm}:week:*"))
        last = client.hgetall(f"{prefix}csm:{csm}:week:{weeks[-1]}") if weeks else {}
        open_tasks = client.scard(f"{prefix}csm:{csm}:open_tasks")
        if not (any(book.values()) or weeks or open_tasks):
            continue  # moved on (an account first seen without its owner)
        rows.append((csm, book, used, open_tasks, weeks[-1] if weeks else "-", last))
    # The latest week goes in the title when every CSM shares it, so the table fits a terminal
    # of 80 columns.
    shared = {row[4] for row in rows}
    week = shared.pop() if len(shared) == 1 else None
    title = "CSM load (capacity: 1:15 enterprise, 1:40 mid-market accounts)"
    table = Table(title=title + (f", week {week}" if week and week != "-" else ""))
    columns = ["CSM", "ent", "mid", "smb", "load", "open tasks"]
    columns += ([] if week else ["week"]) + ["touches", "inbound", "tasks opened"]
    for column in columns:
        if column == "CSM":  # never cut a CSM id short
            width = max((len(row[0]) for row in rows), default=3)
            table.add_column(column, no_wrap=True, min_width=width)
        else:
            table.add_column(column, justify="left" if column == "week" else "right")
    for csm, book, used, open_tasks, latest, last in rows:
        cells = [
            csm,
            str(book["enterprise"]),
            str(book["mid_market"]),
            str(book["smb"]),
            f"{used:.0%}" + (" over" if used > 1 else ""),
            str(open_tasks),
        ]
        cells += ([] if week else [latest]) + [
            last.get("touchpoints", "0"),
            last.get("inbound", "0"),
            last.get("tasks_opened", "0"),
        ]
        table.add_row(*cells)
    return table


def _weakest_component(view: dict[str, str]) -> str:
    try:
        components = json.loads(view.get("components", "{}"))
    except ValueError:
        return ""
    if not components:
        return ""
    name, comp = min(components.items(), key=lambda item: item[1].get("points", 5))
    return f"{name}: {comp.get('detail', '')}"
