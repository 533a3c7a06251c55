"""Slack: Block Kit rendering, the owner mapping and quiet hours, and the API client against
the local fake Slack (no broker needed)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from tests.fakes.slack import FakeSlack
from tests.fakes.tasks import task
from workers.delivery.retry import DeliveryFailed, Fatal, RetryPolicy
from workers.delivery.slack_api import ChannelPacer, MessageGone, SlackApi
from workers.delivery.slack_mapping import QuietHours, parse_mapping
from workers.delivery.slack_render import escape, render


def test_render_has_title_account_link_priority_due_reason_steps() -> None:
    item = task(
        "t1", "updated", "acc <1>", "csm-ana", priority="critical", previous_priority="high"
    )
    text, blocks = render(item, "https://cs.example.com/a/{account_id}", mention="U1")
    assert text.startswith("[critical] Usage dropped — acc <1>")
    kinds = [b["type"] for b in blocks]
    assert kinds == ["header", "section", "section", "section", "context", "actions"]
    assert "Usage dropped" in blocks[0]["text"]["text"]
    fields = " ".join(f["text"] for f in blocks[1]["fields"])
    assert "<https://cs.example.com/a/acc%20%3C1%3E|acc &lt;1&gt;>" in fields
    assert "Critical (was high)" in fields and "<@U1>" in fields and "61 (at_risk)" in fields
    assert "<!date^1788429600^{date_short_pretty} {time}|2026-09-03 10:00 UTC>" in fields
    assert "fell from 40 to 22 (-45%)" in blocks[2]["text"]["text"]
    assert "1. Send a check-in email\n2. Call if no answer" in blocks[3]["text"]["text"]
    assert blocks[5]["elements"][0]["url"] == "https://cs.example.com/a/acc%20%3C1%3E"


def test_render_resolved_without_link_and_long_title() -> None:
    item = task("t2", "resolved", "acc-2", None, title="x" * 400, health=None)
    text, blocks = render(item)
    assert text.startswith("Resolved: ")
    header = blocks[0]["text"]["text"]
    assert header.startswith(":white_check_mark: Resolved:") and len(header) == 150
    assert all(b["type"] != "actions" for b in blocks)
    assert "unassigned" in json.dumps(blocks) and "Health" not in json.dumps(blocks)
    assert escape("a & <b>") == "a &amp; &lt;b&gt;"


def test_mapping_channels_users_defaults_and_errors() -> None:
    mapping = parse_mapping(
        {
            "default_channel": "C-ALL",
            "default_timezone": "America/New_York",
            "owners": {"ana": "C-ANA", "bo": {"user": "U-BO", "quiet_hours": "22:00-07:00"}},
        }
    )
    assert mapping.destination("ana").channel == "C-ANA"
    bo = mapping.destination("bo")
    assert bo.channel == "U-BO" and bo.zone == ZoneInfo("America/New_York") and bo.quiet
    assert mapping.destination("zed").channel == "C-ALL"
    assert mapping.destination(None).channel == "C-ALL"
    assert parse_mapping({"owners": {}}, "C-CLI").destination("x").channel == "C-CLI"
    assert parse_mapping({"owners": {}}).destination("x") is None
    bad = [
        ({"owners": {"a": {"channel": "C", "user": "U"}}}, "exactly one"),
        ({"owners": {"a": {"channel": "C", "timezone": "Nowhere/X"}}}, "owners.a.timezone"),
        ({"owners": {"a": {"channel": "C", "quiet_hours": "9-5"}}}, "HH:MM-HH:MM"),
        ({"owners": {"a": {"channel": "C", "colour": "red"}}}, "unknown key"),
        ({"ownerz": {}}, "unknown key"),
    ]
    for data, message in bad:
        with pytest.raises(ValueError, match=message):
            parse_mapping(data)


def test_quiet_hours_across_midnight_and_within_a_day() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    night = QuietHours.parse("20:00-08:00")
    # 21:30 UTC = 22:30 in Berlin (CET, winter): quiet until 08:00 Berlin = 07:00 UTC.
    assert night.ends_at(datetime(2026, 11, 23, 21, 30, tzinfo=UTC), berlin) == datetime(
        2026, 11, 24, 7, 0, tzinfo=UTC
    )
    # 05:00 UTC = 06:00 Berlin: still quiet, ends the same morning.
    assert night.ends_at(datetime(2026, 11, 24, 5, 0, tzinfo=UTC), berlin) == datetime(
        2026, 11, 24, 7, 0, tzinfo=UTC
    )
    assert night.ends_at(datetime(2026, 11, 24, 12, 0, tzinfo=UTC), berlin) is None
    lunch = QuietHours.parse("12:00-13:30")
    # Summer time (CEST, UTC+2): 10:15 UTC = 12:15 local.
    assert lunch.ends_at(datetime(2026, 7, 1, 10, 15, tzinfo=UTC), berlin) == datetime(
        2026, 7, 1, 11, 30, tzinfo=UTC
    )
    assert lunch.ends_at(datetime(2026, 7, 1, 11, 30, tzinfo=UTC), berlin) is None


def _api(slack: FakeSlack, session: aiohttp.ClientSession, token: str | None = None) -> SlackApi:
    async def sleep(seconds: float) -> None:
        await asyncio.sleep(min(seconds, 0.01))

    policy = RetryPolicy(max_attempts=2, initial_seconds=0.01, jitter=0)
    return SlackApi(session, slack.api_url, token or slack.token, policy, sleep, ChannelPacer(0))


def test_slack_api_post_update_dm_and_errors() -> None:
    async def go(slack: FakeSlack) -> None:
        async with aiohttp.ClientSession() as session:
            api = _api(slack, session)
            posted = await api.post_message("U-BO", "hi", [])
            assert posted.channel == "D-BO"
            await api.update(posted.channel, posted.ts, "edited", [])
            with pytest.raises(MessageGone):
                await api.update("D-BO", "1.000000", "gone", [])
            with pytest.raises(DeliveryFailed, match="channel_not_found") as missing:
                await api.post_message("C-MISSING-1", "hi", [])
            assert missing.value.destination == "C-MISSING-1"
            with pytest.raises(Fatal, match="invalid_auth"):
                await _api(slack, session, token="xoxb-wrong").post_message("C1", "hi", [])

    with FakeSlack() as slack:
        asyncio.run(go(slack))
        (message,) = slack.by_channel("D-BO")
        assert message.text == "edited" and len(message.edits) == 1


def test_channel_pacer_spaces_calls_per_channel() -> None:
    clock = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        clock[0] += seconds

    async def go() -> None:
        pacer = ChannelPacer(1.0, clock=lambda: clock[0])
        await pacer.turn("C1", sleep)
        await pacer.turn("C2", sleep)
        await pacer.turn("C1", sleep)
        clock[0] += 5
        await pacer.turn("C1", sleep)

    asyncio.run(go())
    assert waits == [1.0]
