"""The demo command, as a new user runs it: to completion, with tasks of every playbook of the
bundled catalogue."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from config.rules import load_rules
from tests.integration.harness import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_demo_runs_to_completion_and_raises_tasks_of_every_playbook() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workers.cli", "demo", "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("CS_")},
            "PYTHONPATH": str(ROOT),
            "COLUMNS": "200",
        },
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    assert "Tasks per playbook" in out and "Accounts most at risk" in out
    rows = dict(re.findall(r"│ ([a-z_]+)\s+│\s+(\d+) │", out))
    raised = {playbook for playbook, opened in rows.items() if int(opened) > 0}
    assert set(load_rules().playbooks) <= raised, out
    # The CSM load view, from Redis: csm-farid (falling behind on his cadence) among them.
    assert "CSM load" in out and "csm-farid" in out
    assert "3 dead letters" in out
    assert "Stopped the worker, Redis and the broker." in out
