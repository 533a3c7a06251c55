"""`cs-signals demo --notify-webhook`'s notifier: a real `cs-signals notify webhook` process
delivers to the receiver in the demo process, which checks the signatures and reports."""

from __future__ import annotations

import pytest
from rich.console import Console

from tests.integration.delivery_helpers import lifecycle, task
from tests.integration.harness import Namespace, produce
from workers.local.demo_notify import DemoNotifier

pytestmark = pytest.mark.integration


def test_demo_notifier_delivers_signed_posts_and_reports_them(ns: Namespace) -> None:
    produce(
        ns,
        "playbook-tasks",
        lifecycle("d-life", "acc-d1", "csm-d") + [task("d-2", "opened", "acc-d2", None)],
    )
    notifier = DemoNotifier(ns.env("demo-notifier")).start()
    try:
        assert notifier.wait_caught_up(ns.bootstrap, timeout=60), notifier.log_file.read_text()
        console = Console(record=True, width=160)
        notifier.print_report(console)
    finally:
        notifier.stop()
    delivered = notifier.receiver.received()
    assert [d.idempotency_key for d in delivered if d.task_id == "d-life"] == [
        "d-life:opened",
        "d-life:updated",
        "d-life:resolved",
    ]
    assert len(delivered) == 4 and all(d.signature_valid for d in delivered)
    report = console.export_text()
    assert "4 signed POSTs received, 4 with a valid signature" in report
    assert "1 updated" in report and "acc-d1" in report and "usage_drop" in report
    assert notifier.secret not in report + notifier.log_file.read_text()
    notifier.log_file.unlink(missing_ok=True)


def test_demo_with_notify_webhook_prints_every_task_action_delivered() -> None:
    import os
    import re
    import subprocess
    import sys

    from tests.integration.harness import ROOT

    done = subprocess.run(
        [sys.executable, "-m", "workers.cli", "demo", "--accounts", "30", "--weeks", "4"]
        + ["--quiet", "--notify-webhook"],
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "200"},
    )
    output = " ".join((done.stdout + done.stderr).split())
    assert done.returncode == 0, output[-3000:]
    tasks = re.search(r"([\d,]+) task messages out", output)
    posts = re.search(r"([\d,]+) signed POSTs received, ([\d,]+) with a valid signature", output)
    assert tasks and posts, output[-3000:]
    assert posts.group(1) == posts.group(2) == tasks.group(1)
    assert "webhook notifier started" in output
