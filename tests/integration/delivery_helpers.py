"""Running `cs-signals notify …` / `cs-signals sync …` as a subprocess against the test's
namespace, and building PlaybookTask messages to produce straight onto playbook-tasks."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.fakes.tasks import lifecycle, task
from tests.integration.harness import ROOT, Namespace

T = TypeVar("T")

__all__ = ["DeliveryProcess", "committed_all", "lifecycle", "task", "wait_until"]

# Short backoffs so the tests' retries take milliseconds, not minutes.
FAST_RETRIES = {
    "CS_DELIVERY_MAX_ATTEMPTS": "3",
    "CS_DELIVERY_BACKOFF_INITIAL_SECONDS": "0.05",
    "CS_DELIVERY_BACKOFF_MAX_SECONDS": "0.2",
    "CS_DELIVERY_HTTP_TIMEOUT_SECONDS": "5",
}


class DeliveryProcess:
    def __init__(self, ns: Namespace, args: list[str], env: dict[str, str]) -> None:
        self.ns = ns
        self.args = args
        self.env = {**ns.env("notifier-1"), **FAST_RETRIES, **env}
        fd, path = tempfile.mkstemp(prefix="cs-it-delivery-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> DeliveryProcess:
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", *self.args],
                env=self.env,
                cwd=str(ROOT),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log().splitlines():
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
        return found

    def logged(self, event: str, task_id: str) -> bool:
        """The process has logged `event` for the task `task_id`."""
        return any(e.get("event") == event and e.get("task_id") == task_id for e in self.events())

    def wait_assigned(self, timeout: float = 40.0) -> None:
        wait_until(
            lambda: any(
                e.get("event") == "partitions_assigned" and e.get("partitions")
                for e in self.events()
            ),
            timeout,
            self,
            "partitions assigned",
        )

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if not os.environ.get("CS_KEEP_TEST_LOGS"):
            self.log_path.unlink(missing_ok=True)
        return self.proc.returncode


def wait_until(
    check: Callable[[], T], timeout: float, process: DeliveryProcess | None = None, what: str = ""
) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if process is not None and process.proc is not None and process.proc.poll() is not None:
            raise AssertionError(
                f"the process exited {process.proc.returncode}:\n{process.log()[-6000:]}"
            )
        if time.monotonic() > deadline:
            logs = process.log()[-6000:] if process is not None else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what or check}\n{logs}")
        time.sleep(0.1)


def committed_all(ns: Namespace, group: str, topic: str = "playbook-tasks") -> bool:
    from workers.stream.kafka_io import group_progress

    return group_progress(ns.bootstrap, group, [ns.topic(topic)]).done
