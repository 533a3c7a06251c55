"""A notifier's Prometheus /metrics, scraped over HTTP while `cs-signals notify webhook` runs
against a local receiver and the real broker."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from tests.fakes.webhook import FakeReceiver
from tests.integration.delivery_helpers import DeliveryProcess, task, wait_until
from tests.integration.harness import Namespace, produce
from workers.local.embedded import free_port

pytestmark = pytest.mark.integration


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    found: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_notifier_metrics_count_sent_retried_dead_and_latency(
    ns: Namespace, tmp_path: Path
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("whsec-metrics\n")
    port = free_port()
    with FakeReceiver() as hook:
        hook.rate_limit["m-burst"] = 2
        hook.retry_after = "0"
        hook.fail["m-reject"] = 400
        produce(
            ns,
            "playbook-tasks",
            [
                task("m-1", "opened", "acc-m1", "csm-m"),
                task("m-1", "resolved", "acc-m1", "csm-m"),
                task("m-burst", "opened", "acc-m2", "csm-m"),
                task("m-reject", "opened", "acc-m3", "csm-m"),
            ],
        )
        args = ["notify", "webhook", hook.hook_url, "--secret-file", str(secret)]
        proc = DeliveryProcess(
            ns, args + ["--start", "earliest"], {"CS_METRICS_PORT": str(port)}
        ).start()
        try:
            sent = 'cs_signals_notifications_sent_total{sink="webhook"}'
            found = wait_until(
                lambda: (m := _try_scrape(port)) and m.get(sent) == 3 and m,
                40,
                proc,
                "3 deliveries counted on /metrics",
            )
            assert found['cs_signals_notifications_dead_total{sink="webhook"}'] == 1
            retried = 'cs_signals_notifications_retried_total{reason="rate_limited",sink="webhook"}'
            assert found[retried] == 2
            assert found['cs_signals_delivery_latency_seconds_count{sink="webhook"}'] == 3
            assert found['cs_signals_delivery_batch_duration_seconds_count{sink="webhook"}'] >= 1
            assert len(hook.accepted()) == 3
        finally:
            assert proc.stop() == 0


def _try_scrape(port: int) -> dict[str, float] | None:
    try:
        return scrape(port)
    except OSError:
        return None
