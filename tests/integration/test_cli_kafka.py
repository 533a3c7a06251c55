"""`produce` and `tail` against the embedded broker, as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.harness import ROOT, Namespace, WorkerProcess, read_topic, tasks_of, wait_for

pytestmark = pytest.mark.integration


def _cli(ns: Namespace, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args],
        cwd=ROOT,
        env=ns.env("cli"),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_produce_publishes_valid_lines_reports_bad_ones_and_tail_shows_tasks(
    ns: Namespace, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    worker = WorkerProcess(ns, "cli-1").start()
    workers.append(worker)
    lines = [
        json.dumps(
            {
                "type": "account",
                "event_id": "a1",
                "account_id": "cli-acme",
                "occurred_at": "2026-09-01T09:00:00Z",
                "csm_id": "csm-ana",
            }
        ),
        "{not json",
        json.dumps(
            {
                "type": "nps",
                "event_id": "n1",
                "account_id": "cli-acme",
                "occurred_at": "2026-09-01T10:00:00Z",
                "score": 1,
            }
        ),
        json.dumps({"type": "refund", "event_id": "x", "account_id": "cli-acme"}),
        "",
        json.dumps(
            {
                "type": "activity",
                "event_id": "c1",
                "account_id": "cli-acme",
                "occurred_at": "2026-09-01T11:00:00Z",
                "activity_id": "call-1",
                "kind": "call",
                "direction": "outbound",
                "csm_id": "csm-ana",
            }
        ),
        json.dumps(
            {
                "type": "milestone",
                "event_id": "m1",
                "account_id": "cli-acme",
                "occurred_at": "2026-09-01T11:00:00Z",
                "plan_id": "plan-1",
                "milestone_id": "kickoff",
                "title": "Kickoff",
                "phase": "onboard",
                "due_date": "2026-09-05",
                "status": "planned",
            }
        ),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")

    result = _cli(ns, "produce", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{path}:2:" in result.stderr and f"{path}:4:" in result.stderr
    assert "published 4 event(s)" in result.stdout
    assert len(read_topic(ns, "account-events")) == 1
    assert len(read_topic(ns, "nps-events")) == 1
    assert [e["activity_id"] for e in read_topic(ns, "activity-events")] == ["call-1"]
    assert [e["milestone_id"] for e in read_topic(ns, "milestone-events")] == ["kickoff"]

    wait_for(
        ns, "playbook-tasks", lambda m: tasks_of(m, "cli-acme", "nps_detractor"), workers=[worker]
    )
    tail = _cli(ns, "tail", "playbook-tasks", "--from-beginning", "--idle-timeout", "3")
    assert tail.returncode == 0, tail.stderr
    line = next(row for row in tail.stdout.splitlines() if "nps_detractor" in row)
    assert "cli-acme" in line and "opened" in line and "csm-ana" in line and "scored 1" in line

    inputs = _cli(ns, "tail", "activity-events", "--from-beginning", "--idle-timeout", "3")
    assert inputs.returncode == 0 and '"activity_id":"call-1"' in inputs.stdout, inputs.stderr

    unknown = _cli(ns, "tail", "no-such-topic")
    assert unknown.returncode == 2 and "playbook-tasks" in unknown.stderr
