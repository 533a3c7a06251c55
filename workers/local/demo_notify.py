"""`cs-signals demo --notify-webhook`: a real `cs-signals notify webhook` process delivering the
demo's tasks to a small HTTP receiver in the demo process, which checks each request's
signature; the demo then prints what was delivered.

The receiver answers 200 to every signed POST and 401 to a bad signature (which the notifier
dead-letters), so what it shows is exactly what a real endpoint would have received.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from workers.delivery.webhook import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from workers.local.processes import stop_process

PATH = "/cs-signals/tasks"


@dataclass
class Delivery:
    task_id: str
    action: str
    playbook: str
    account_id: str
    priority: str
    idempotency_key: str
    signature_valid: bool
    received_at: float


@dataclass
class WebhookReceiver:
    """A threaded HTTP server on 127.0.0.1 that records the signed task POSTs it gets."""

    secret: bytes
    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}{PATH}"

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                valid = self.path == PATH and verify(
                    receiver.secret,
                    body,
                    self.headers.get(TIMESTAMP_HEADER, ""),
                    self.headers.get(SIGNATURE_HEADER, ""),
                )
                try:
                    task = json.loads(body)
                except ValueError:
                    task = {}
                with receiver.lock:
                    receiver.deliveries.append(
                        Delivery(
                            task_id=str(task.get("task_id")),
                            action=str(task.get("action")),
                            playbook=str(task.get("playbook")),
                            account_id=str(task.get("account_id")),
                            priority=str(task.get("priority")),
                            idempotency_key=self.headers.get(IDEMPOTENCY_HEADER, ""),
                            signature_valid=valid,
                            received_at=time.time(),
                        )
                    )
                self.send_response(200 if valid else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:  # keep the demo's console clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def received(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)


class DemoNotifier:
    """The receiver plus a `cs-signals notify webhook` process in the demo's environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.secret = secrets.token_urlsafe(24)
        self.receiver = WebhookReceiver(self.secret.encode())
        fd, secret_path = tempfile.mkstemp(prefix="cs-signals-demo-webhook-secret-")
        os.write(fd, self.secret.encode())
        os.close(fd)
        self.secret_file = Path(secret_path)
        fd, log_path = tempfile.mkstemp(prefix="cs-signals-demo-notifier-", suffix=".log")
        os.close(fd)
        self.log_file = Path(log_path)
        self.env = dict(env)
        self.env["CS_WORKER_ID"] = "demo-notifier"
        self.env["CS_METRICS_PORT"] = "0"  # the worker's port is taken; not needed here
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def group(self) -> str:
        return f"{self.env.get('CS_APP_ID', 'cs-signals')}-notify-webhook"

    def start(self) -> DemoNotifier:
        self.receiver.start()
        with self.log_file.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "notify", "webhook", self.receiver.url]
                + ["--secret-file", str(self.secret_file), "--start", "earliest"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def wait_caught_up(self, bootstrap: str, timeout: float = 60.0) -> bool:
        """Until the notifier committed everything on playbook-tasks (or it died)."""
        from workers.stream.kafka_io import group_progress

        topic = self.env.get("CS_TOPIC_PREFIX", "") + "playbook-tasks"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            if group_progress(bootstrap, self.group, [topic]).done:
                return True
            time.sleep(0.3)
        return False

    def stop(self) -> None:
        stop_process(self.proc)
        self.receiver.stop()
        self.secret_file.unlink(missing_ok=True)

    def print_report(self, console: Console, shown: int = 12) -> None:
        delivered = self.receiver.received()
        if self.proc is not None and self.proc.poll() not in (None, 0):
            console.print(
                f"[red]The notifier exited with code {self.proc.returncode}.[/] Last log lines:"
            )
            console.print(self.log_file.read_text(errors="replace")[-2000:])
        valid = sum(d.signature_valid for d in delivered)
        actions = Counter(d.action for d in delivered)
        console.print(
            f"\n[bold]Webhook notifier[/] (cs-signals notify webhook → {self.receiver.url}): "
            f"{len(delivered):,} signed POSTs received, {valid:,} with a valid signature "
            f"({', '.join(f'{n} {a}' for a, n in sorted(actions.items())) or 'none'}); "
            f"log {self.log_file}"
        )
        table = Table(title=f"First {min(shown, len(delivered))} deliveries", title_justify="left")
        for column in ("action", "playbook", "account", "priority", "signature"):
            table.add_column(column)
        for d in delivered[:shown]:
            table.add_row(
                d.action,
                d.playbook,
                d.account_id,
                d.priority,
                "[green]valid[/]" if d.signature_valid else "[red]invalid[/]",
            )
        if delivered:
            console.print(table)
