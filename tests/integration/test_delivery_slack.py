"""`cs-signals notify slack` against a local Slack Web API and the real broker and Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.slack import FakeSlack
from tests.integration.delivery_helpers import (
    DeliveryProcess,
    committed_all,
    lifecycle,
    task,
    wait_until,
)
from tests.integration.harness import Namespace, produce, read_topic

pytestmark = pytest.mark.integration

MAPPING = """
default_timezone: UTC
owners:
  csm-ana: {channel: C-ANA, mention: U-ANA, timezone: Europe/Berlin}
  csm-burst: {channel: C-BURST}
  csm-broken: {channel: C-BROKEN}
  csm-bo: {user: U-BO}
"""


def _texts(blocks: list[dict]) -> str:
    return json.dumps(blocks)


def test_one_message_per_task_edited_rate_limits_dead_letters_and_snooze(
    ns: Namespace, tmp_path: Path
) -> None:
    mapping = tmp_path / "owners.yaml"
    mapping.write_text(MAPPING)
    with FakeSlack() as slack:
        slack.rate_limit["C-BURST"] = 3
        slack.broken["C-BROKEN"] = 500
        produce(
            ns,
            "playbook-tasks",
            lifecycle("t-life", "acc-life", "csm-ana")
            + [
                task("t-burst", "opened", "acc-burst", "csm-burst"),
                task("t-broken", "opened", "acc-broken", "csm-broken"),
                task("t-dm", "opened", "acc-dm", "csm-bo"),
                task("t-dm", "updated", "acc-dm", "csm-bo", priority="critical"),
                task("t-nobody", "opened", "acc-nobody", "csm-unknown"),
            ],
        )
        proc = DeliveryProcess(
            ns,
            ["notify", "slack", "--mapping", str(mapping), "--default-channel", "C-DEFAULT"]
            + ["--start", "earliest"],
            {
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_API_URL": slack.api_url,
                "SLACK_CHANNEL_INTERVAL_SECONDS": "0.3",
                "CS_ACCOUNT_URL_TEMPLATE": "https://cs.example.com/accounts/{account_id}",
                # csm-ana's two tasks below take the budget; a third goes into the digest.
                "SLACK_DAILY_BUDGET": "2",
            },
        ).start()
        try:
            # opened -> updated -> resolved: one message, created then edited twice.
            wait_until(
                lambda: [m for m in slack.by_channel("C-ANA") if len(m.edits) == 2],
                40,
                proc,
                "the lifecycle message edited twice",
            )
            (message,) = slack.by_channel("C-ANA")
            calls = slack.calls_to("C-ANA")
            assert [c["method"] for c in calls] == [
                "chat.postMessage",
                "chat.update",
                "chat.update",
            ]
            gaps = [b["at"] - a["at"] for a, b in zip(calls, calls[1:], strict=False)]
            assert min(gaps) >= 0.25, gaps  # paced per channel
            first_edit = _texts(message.edits[0]["blocks"])
            assert "Critical (was high)" in first_edit
            assert message.text.startswith("Resolved: [critical] Usage dropped")
            final = _texts(message.blocks)
            assert "Resolved: Usage dropped" in final and "<@U-ANA>" in final
            assert "https://cs.example.com/accounts/acc-life" in final
            assert "fell from 40 to 22" in final and "Call if no answer" in final

            # A burst of 429s with Retry-After: waited out, delivered once.
            wait_until(lambda: slack.by_channel("C-BURST"), 20, proc, "the rate-limited post")
            burst = slack.calls_to("C-BURST")
            assert [c["status"] for c in burst] == [429, 429, 429, 200]
            assert burst[1]["at"] - burst[0]["at"] >= 0.9  # Retry-After: 1 honoured

            # A channel that keeps failing: the task goes to notify-dead-letters with why.
            letters = wait_until(
                lambda: read_topic(ns, "notify-dead-letters", idle_ms=500),
                20,
                proc,
                "a dead letter",
            )
            (letter,) = letters
            assert letter["task_id"] == "t-broken" and letter["sink"] == "slack"
            assert "HTTP 500" in letter["reason"] and letter["attempts"] == 3
            assert (
                letter["destination"] == "C-BROKEN" and letter["task"]["account_id"] == "acc-broken"
            )
            assert len(slack.calls_to("C-BROKEN")) == 3 and not slack.by_channel("C-BROKEN")

            # A user destination is a DM; its edit goes to the DM channel Slack answered with.
            wait_until(
                lambda: [m for m in slack.by_channel("D-BO") if m.edits], 10, proc, "the DM edit"
            )
            assert len(slack.by_channel("C-DEFAULT")) == 1  # the unmapped owner

            # snoozed feedback holds the task's updates until `until`.
            produce(ns, "playbook-tasks", [task("t-snz", "opened", "acc-snz", "csm-ana")])
            wait_until(lambda: len(slack.by_channel("C-ANA")) == 2, 15, proc, "the t-snz post")
            until = datetime.now(UTC) + timedelta(seconds=2.5)
            feedback = {
                "event_id": "fb-snooze-1",
                "account_id": "acc-snz",
                "occurred_at": datetime.now(UTC).isoformat(),
                "task_id": "t-snz",
                "playbook": "usage_drop",
                "action": "snoozed",
                "until": until.isoformat().replace("+00:00", "Z"),
                "by": "csm-ana",
                "source": "slack",
            }
            produce(ns, "task-feedback", [feedback])
            redis = ns.redis()
            wait_until(
                lambda: redis.exists(f"{ns.redis_prefix}notify:slack:snooze:t-snz"),
                20,
                proc,
                "the snooze in Redis",
            )
            produce(ns, "playbook-tasks", [task("t-snz", "updated", "acc-snz", "csm-ana")])
            wait_until(
                lambda: proc.logged("slack_message_held", "t-snz"), 15, proc, "the update held"
            )
            snoozed = next(m for m in slack.by_channel("C-ANA") if m is not message)
            assert not snoozed.edits
            wait_until(lambda: snoozed.edits, 10, proc, "the held update released")
            assert snoozed.edits[0]["at"] >= until.timestamp() - 0.05

            # Past csm-ana's daily budget of 2: into the owner's digest, no new message.
            produce(ns, "playbook-tasks", [task("t-over", "opened", "acc-over", "csm-ana")])
            wait_until(
                lambda: proc.logged("slack_task_digested", "t-over"),
                15,
                proc,
                "the task past the budget digested",
            )
            digests = list(redis.scan_iter(match=f"{ns.redis_prefix}notify:slack:digest:csm-ana|*"))
            assert len(digests) == 1 and redis.hexists(digests[0], "t-over")
            assert len(slack.by_channel("C-ANA")) == 2

            wait_until(
                lambda: committed_all(ns, f"{ns.app_id}-notify-slack"), 15, proc, "the commit"
            )
            assert slack.token not in proc.log()
        finally:
            code = proc.stop()
        assert code == 0
        # Nothing was posted twice.
        posts = [c for c in slack.calls if c["method"] == "chat.postMessage" and c["status"] == 200]
        assert len(posts) == len(slack.messages) == 5
