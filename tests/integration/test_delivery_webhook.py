"""`cs-signals notify webhook` against a local receiver and the real broker and Redis."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.webhook import FakeReceiver
from tests.integration.delivery_helpers import (
    DeliveryProcess,
    committed_all,
    lifecycle,
    task,
    wait_until,
)
from tests.integration.harness import Namespace, produce, read_topic
from workers.delivery.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify

pytestmark = pytest.mark.integration

SECRET = "whsec-integration-secret"


def test_signed_post_per_action_in_order_retries_and_dead_letters(
    ns: Namespace, tmp_path: Path
) -> None:
    secret_file = tmp_path / "webhook-secret"
    secret_file.write_text(SECRET + "\n")
    with FakeReceiver() as hook:
        hook.rate_limit["w-burst"] = 3
        hook.fail["w-down"] = 503
        hook.fail["w-reject"] = 400
        produce(
            ns,
            "playbook-tasks",
            lifecycle("w-life", "acc-w-life", "csm-ana")
            + [
                task("w-burst", "opened", "acc-w-burst", "csm-ana"),
                task("w-down", "opened", "acc-w-down", "csm-ana"),
                task("w-reject", "opened", "acc-w-reject", "csm-ana"),
            ],
        )
        args = ["notify", "webhook", hook.hook_url, "--secret-file", str(secret_file)]
        proc = DeliveryProcess(ns, args + ["--start", "earliest"], {}).start()
        try:
            letters = wait_until(
                lambda: (
                    (found := read_topic(ns, "notify-dead-letters", idle_ms=500))
                    and len(found) == 2
                    and found
                ),
                40,
                proc,
                "two dead letters",
            )
            wait_until(
                lambda: len(hook.accepted("w-life")) == 3 and hook.accepted("w-burst"),
                20,
                proc,
                "the deliveries",
            )
            # One signed POST per action, in order, each signature valid.
            life = hook.accepted("w-life")
            assert [r["task"]["action"] for r in life] == ["opened", "updated", "resolved"]
            for request in life:
                headers = request["headers"]
                assert verify(
                    SECRET.encode(),
                    request["body"],
                    headers[TIMESTAMP_HEADER],
                    headers[SIGNATURE_HEADER],
                )
                assert headers["Idempotency-Key"] == f"w-life:{request['task']['action']}"
                assert headers["Content-Type"] == "application/json"
                assert not verify(
                    b"another-secret",
                    request["body"],
                    headers[TIMESTAMP_HEADER],
                    headers[SIGNATURE_HEADER],
                )
            assert life[1]["task"]["priority"] == "critical"

            # 429 x3 with Retry-After, then delivered once.
            burst = [r for r in hook.requests if r["task"]["task_id"] == "w-burst"]
            assert [r["status"] for r in burst] == [429, 429, 429, 200]
            assert burst[1]["at"] - burst[0]["at"] >= 0.9

            # 5xx until the retries are spent, and a 4xx at once: dead letters with the reason.
            by_task = {letter["task_id"]: letter for letter in letters}
            down, reject = by_task["w-down"], by_task["w-reject"]
            assert "HTTP 503" in down["reason"] and down["attempts"] == 3
            assert "HTTP 400" in reject["reason"] and reject["attempts"] == 1
            assert down["sink"] == "webhook" and down["task"]["account_id"] == "acc-w-down"
            assert down["destination"].endswith("/hooks/tasks")
            assert len([r for r in hook.requests if r["task"]["task_id"] == "w-reject"]) == 1

            wait_until(
                lambda: committed_all(ns, f"{ns.app_id}-notify-webhook"), 15, proc, "the commit"
            )
            # Neither the secret nor the URL's token appears in logs or dead letters.
            assert SECRET not in proc.log() and "do-not-log-me" not in proc.log()
            assert "do-not-log-me" not in json.dumps(letters)
        finally:
            code = proc.stop()
        assert code == 0
