"""The per-owner alert budget and daily digest of `notify slack` (slack_digest.py), on the real
Redis and the local fake Slack Web API, with the notifier's clock in the test's hands."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from config.settings import SettingsError
from tests.fakes.slack import FakeSlack
from tests.fakes.tasks import task
from workers.delivery.messages import DeadLetter, TaskMessage
from workers.delivery.retry import RetryPolicy
from workers.delivery.settings import Env, slack
from workers.delivery.slack_api import ChannelPacer, SlackApi
from workers.delivery.slack_digest import next_digest, rank
from workers.delivery.slack_mapping import parse_mapping
from workers.delivery.slack_sink import SlackNotifier
from workers.logs import get_logger

pytestmark = pytest.mark.integration

MAPPING = {
    "default_timezone": "UTC",
    "owners": {
        "csm-ana": {"channel": "C-ANA", "timezone": "Europe/Berlin"},
        "csm-gone": {"channel": "C-MISSING-GONE"},
    },
}


class Letters:
    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []

    async def publish(self, letters: list[DeadLetter]) -> None:
        self.sent.extend(letters)


def _message(item: dict[str, Any], offset: int) -> TaskMessage:
    return TaskMessage("playbook-tasks", 0, offset, json.dumps(item).encode(), item)


def test_budget_defers_past_n_pings_into_one_ranked_digest(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    # 09:00 UTC = 10:00 in Berlin: the digest is due at 16:00 Berlin = 15:00 UTC.
    clock = [datetime(2026, 11, 24, 9, 0, tzinfo=UTC)]

    async def go(fake: FakeSlack) -> Letters:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        # The workers' view holds each account's ARR (redis_view.health_fields).
        for account, arr in (("acc-small", 5_000), ("acc-big", 400_000), ("acc-mid", 60_000)):
            await client.hset(f"{prefix}health:{account}", mapping={"arr": arr, "score": 50})

        async def sleep(_seconds: float) -> None:
            await asyncio.sleep(0)

        letters = Letters()
        async with aiohttp.ClientSession() as session:
            api = SlackApi(
                session,
                fake.api_url,
                fake.token,
                RetryPolicy(max_attempts=2, initial_seconds=0.01, jitter=0),
                sleep,
                ChannelPacer(0),
            )
            notifier = SlackNotifier(
                api,
                parse_mapping(MAPPING),
                client,
                prefix,
                letters,  # type: ignore[arg-type]
                sleep,
                get_logger("test"),
                daily_budget=2,
                digest_at=time(16, 0),
                now=lambda: clock[0],
            )
            batch = [
                task("t1", "opened", "acc-a", "csm-ana", priority="medium"),
                task("t2", "opened", "acc-b", "csm-ana", priority="medium"),
                # Past the budget of 2:
                task("t3", "opened", "acc-small", "csm-ana", priority="high"),
                task("t4", "opened", "acc-big", "csm-ana", priority="medium"),
                task("t5", "opened", "acc-mid", "csm-ana", priority="low"),
                task("t6", "opened", "acc-fire", "csm-ana", priority="critical"),
                task("t7", "opened", "acc-gone", "csm-ana", priority="low"),
            ]
            for offset, item in enumerate(batch):
                assert await notifier.deliver([_message(item, offset)]) == []
            # A redelivery of a pinged task neither pings again nor takes a second place.
            await notifier.deliver([_message(batch[0], 0)])
            # Later actions of digested tasks follow them into the digest.
            later = [
                task("t7", "resolved", "acc-gone", "csm-ana", priority="low"),
                task("t5", "updated", "acc-mid", "csm-ana", priority="high"),
            ]
            for offset, item in enumerate(later, start=10):
                await notifier.deliver([_message(item, offset)])
            assert [m.text.split("]")[0] for m in fake.by_channel("C-ANA")] == [
                "[medium",
                "[medium",
                "[critical",
            ]
            await notifier.release_digests()  # not due yet
            assert len(fake.by_channel("C-ANA")) == 3
            clock[0] = datetime(2026, 11, 24, 15, 0, 1, tzinfo=UTC)
            await notifier.release_digests()
            # A digest for an owner Slack refuses: its tasks are dead-lettered, not lost.
            gone = task("t9", "opened", "acc-x", "csm-gone", priority="low")
            for n in range(3):
                await notifier.deliver([_message(dict(gone, task_id=f"g{n}"), 20 + n)])
            clock[0] += timedelta(days=1)
            await notifier.release_digests()
            keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
            return letters

    with FakeSlack() as fake:
        letters = asyncio.run(go(fake))
        messages = fake.by_channel("C-ANA")
        assert len(messages) == 4  # two in budget, the critical one, one digest
        digest = messages[-1]
        assert digest.text.startswith("Digest: 3 tasks past today's budget of 2 alerts")
        body = json.dumps(digest.blocks)
        # Ranked by ARR x severity: acc-big (400k x medium 2) > acc-mid (60k x high 4, its
        # update) > acc-small (5k x high 4); the resolved acc-gone is not listed.
        assert body.index("acc-big") < body.index("acc-mid") < body.index("acc-small")
        assert "acc-gone" not in body and "ARR 400,000" in body and "(updated)" in body
        # csm-gone's two tasks past its budget went to one digest that Slack refused.
        assert [letter.task["task_id"] for letter in letters.sent] == ["g2"]
        assert "channel_not_found" in letters.sent[0].reason


def test_digest_time_ranking_and_settings() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    morning = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert next_digest(morning, time(16, 0), berlin) == datetime(2026, 11, 24, 15, 0, tzinfo=UTC)
    evening = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 16:30 Berlin: tomorrow's
    assert next_digest(evening, time(16, 0), berlin) == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    assert next_digest(evening, time(16, 0), None) == datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
    assert rank({"priority": "critical"}, None) == 8 and rank({"priority": "low"}, 1000) == 1000
    base = {"SLACK_BOT_TOKEN": "xoxb-1"}
    settings = slack(
        Env({**base, "SLACK_DAILY_BUDGET": "5", "SLACK_DIGEST_AT": "08:30"}, env_file=None)
    )
    assert settings.daily_budget == 5 and settings.digest_at == time(8, 30)
    assert slack(Env(base, env_file=None)).daily_budget == 0
    for name, value in (("SLACK_DAILY_BUDGET", "-1"), ("SLACK_DIGEST_AT", "8am")):
        with pytest.raises(SettingsError, match=name):
            slack(Env({**base, name: value}, env_file=None))
