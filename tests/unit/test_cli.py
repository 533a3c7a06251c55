"""The command line as a user meets it: help, check-config, backtest (no broker needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from workers.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.cli", *args], cwd=ROOT, capture_output=True, text=True
    )


def test_help_lists_every_command_and_setting() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("worker", "demo", "produce", "tail", "check-config", "backtest", "sample"):
        assert command in result.stdout
    assert "KAFKA_BOOTSTRAP_SERVERS" in result.stdout and "CS_APP_ID" in result.stdout


def test_check_config_accepts_the_bundled_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config"]) == 0
    assert "OK" in capsys.readouterr().out


def test_check_config_explains_each_error(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    bundled = (ROOT / "config" / "rules.yaml").read_text()
    broken = bundled.replace("usage: 0.30", "usage: 0.50").replace("sla: 24h", "sla: soon", 1)
    rules.write_text(broken)
    result = _run("check-config", str(rules))
    assert result.returncode == 1
    assert str(rules) in result.stderr
    assert "weights" in result.stderr and "soon" in result.stderr


def test_worker_refuses_bad_settings_naming_the_variable() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workers.cli", "worker"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "CS_TOPIC_PARTITIONS": "many", "HOME": "/tmp"},
    )
    assert result.returncode == 2
    assert "CS_TOPIC_PARTITIONS" in result.stderr


def test_backtest_counts_tasks_and_reports_bad_lines(tmp_path: Path) -> None:
    lines = [
        {
            "type": "account",
            "event_id": "a1",
            "account_id": "acme",
            "occurred_at": "2026-09-01T09:00:00Z",
            "csm_id": "csm-ana",
        },
        {
            "type": "nps",
            "event_id": "n1",
            "account_id": "acme",
            "occurred_at": "2026-09-01T10:00:00Z",
            "score": 2,
        },
        {
            "type": "nps",
            "event_id": "n2",
            "account_id": "acme",
            "occurred_at": "2026-09-01T10:00:00Z",
            "score": 12,
        },
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    result = _run("backtest", str(path), "--tasks")
    assert result.returncode == 1  # one invalid line
    assert f"{path}:3:" in result.stderr and "score" in result.stderr
    assert "nps_detractor" in result.stdout
    assert "2 events, 1 accounts" in result.stdout
