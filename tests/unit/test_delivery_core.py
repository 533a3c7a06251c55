"""Pure parts of the delivery package: retry policy, HTTP status mapping, webhook signing,
task decoding, dead letters and the sinks' settings."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from config.settings import SettingsError
from workers.cli.parser import main
from workers.delivery import settings as sink_settings
from workers.delivery.http import Response, check_status, parse_retry_after, redact_url
from workers.delivery.messages import DeadLetter, TaskMessage, decode
from workers.delivery.retry import (
    DeliveryFailed,
    Fatal,
    RateLimited,
    Retryable,
    RetryPolicy,
    Sleeper,
    Stopping,
    with_retries,
)
from workers.delivery.webhook import signature, signed_headers, verify

# -- retry ---------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_and_jitter_only_shortens() -> None:
    policy = RetryPolicy(initial_seconds=1, max_seconds=10, jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    jittered = RetryPolicy(initial_seconds=4, max_seconds=10, jitter=0.25)
    rng = random.Random(7)
    waits = [jittered.backoff(1, rng) for _ in range(200)]
    assert all(3.0 <= w <= 4.0 for w in waits) and len(set(waits)) > 100


def test_retry_after_wins_over_backoff_and_is_capped() -> None:
    policy = RetryPolicy(initial_seconds=1, jitter=0, max_retry_after_seconds=30)
    assert policy.wait_after(RateLimited("x", retry_after=7), 1) == 7
    assert policy.wait_after(RateLimited("x", retry_after=3600), 1) == 30
    assert policy.wait_after(Retryable("x"), 3) == 4


def _run(outcomes: list[Exception | str], policy: RetryPolicy) -> tuple[object, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def attempt() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    async def go() -> object:
        try:
            return await with_retries(attempt, policy, sleep)
        except DeliveryFailed as exc:
            return exc

    return asyncio.run(go()), waits


def test_with_retries_recovers_after_429s_and_5xx() -> None:
    policy = RetryPolicy(max_attempts=3, initial_seconds=0.5, jitter=0)
    result, waits = _run(
        [RateLimited("429", 2), RateLimited("429", 2), Retryable("503"), "ok"], policy
    )
    assert result == "ok" and waits == [2, 2, 0.5]


def test_with_retries_gives_up_with_the_reason_and_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, initial_seconds=0.1, jitter=0)
    result, waits = _run([Retryable("HTTP 503")] * 3, policy)
    assert isinstance(result, DeliveryFailed) and result.exhausted
    assert result.attempts == 3 and "HTTP 503" in result.reason and "3 attempts" in result.reason
    assert waits == [0.1, 0.2]
    limited, _ = _run([RateLimited("429")] * 4, RetryPolicy(max_rate_limited=4, jitter=0))
    assert isinstance(limited, DeliveryFailed) and "rate limited after 4" in limited.reason


def test_a_refusal_is_not_retried() -> None:
    result, waits = _run([Retryable("503"), DeliveryFailed("HTTP 400 bad")], RetryPolicy())
    assert isinstance(result, DeliveryFailed) and not result.exhausted
    assert result.attempts == 2 and len(waits) == 1


def test_sleeper_stops_early() -> None:
    async def go() -> None:
        stop = asyncio.Event()
        sleep = Sleeper(stop)
        await sleep(0.01)
        asyncio.get_running_loop().call_later(0.05, stop.set)
        with pytest.raises(Stopping):
            await sleep(30)

    asyncio.run(go())


# -- HTTP ----------------------------------------------------------------------------------


def test_parse_retry_after_seconds_and_http_date() -> None:
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30
    assert parse_retry_after(format_datetime(now - timedelta(seconds=30), usegmt=True), now) == 0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, RateLimited),
        (500, Retryable),
        (503, Retryable),
        (408, Retryable),
        (400, DeliveryFailed),
        (404, DeliveryFailed),
        (401, Fatal),
    ],
)
def test_check_status(status: int, kind: type[Exception]) -> None:
    response = Response(status, {"retry-after": "4"}, b'{"message": "nope"}')
    with pytest.raises(kind) as raised:
        check_status(response, "thing", fatal=(401,))
    assert f"HTTP {status}" in str(raised.value) and "nope" in str(raised.value)
    if status == 429:
        assert raised.value.retry_after == 4  # type: ignore[attr-defined]
    assert check_status(Response(204, {}, b""), "thing").status == 204


def test_redact_url_drops_credentials_and_query() -> None:
    assert redact_url("https://u:p@hooks.example.com:8443/in?token=s#x") == (
        "https://hooks.example.com:8443/in"
    )


# -- webhook signing -----------------------------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = b'{"task_id":"t1"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(b"s3cret", 1700000000, body) == f"v1={expected}"


def test_verify_checks_secret_body_freshness_and_accepts_rotation_lists() -> None:
    body, stamp = b'{"a":1}', 1_800_000_000
    good = signature(b"k", stamp, body)
    assert verify(b"k", body, str(stamp), good, now=stamp + 10)
    assert verify(b"k", body, str(stamp), f"v1=deadbeef, {good}", now=stamp)
    assert not verify(b"k", b'{"a":2}', str(stamp), good, now=stamp)
    assert not verify(b"other", body, str(stamp), good, now=stamp)
    assert not verify(b"k", body, str(stamp), good, now=stamp + 301)
    assert not verify(b"k", body, "x", good) and not verify(b"k", body, None, good)


def test_signed_headers_carry_the_idempotency_key() -> None:
    headers = signed_headers(b"k", b"{}", {"task_id": "t9", "action": "resolved"}, 1_800_000_000)
    assert headers["Idempotency-Key"] == "t9:resolved"
    assert headers["X-CS-Signals-Timestamp"] == "1800000000"
    assert headers["X-CS-Signals-Signature"] == signature(b"k", 1_800_000_000, b"{}")


# -- decoding and dead letters -------------------------------------------------------------


def test_decode_accepts_tasks_and_explains_what_is_not_one() -> None:
    good = json.dumps({"task_id": "t", "action": "opened", "account_id": "a"}).encode()
    assert isinstance(decode("slack", "p.playbook-tasks", 0, 5, good), TaskMessage)
    cases = {
        b"{nope": "not JSON",
        b"[1]": "not a JSON object",
        b'{"task_id": "t", "action": "opened"}': "missing account_id",
        b'{"task_id": "t", "action": "closed", "account_id": "a"}': "action 'closed'",
        b"\xff": "not JSON",
    }
    for raw, reason in cases.items():
        letter = decode("slack", "p.playbook-tasks", 1, 9, raw)
        assert isinstance(letter, DeadLetter) and reason in letter.reason, raw


def test_dead_letter_json() -> None:
    task = {"task_id": "t", "action": "opened", "account_id": "a"}
    letter = DeadLetter("webhook", "HTTP 400", "p.playbook-tasks", 2, 40, b"{}", task, 1, "x")
    body = json.loads(letter.to_json(datetime(2026, 11, 23, tzinfo=UTC)))
    assert body["task_id"] == "t" and body["task"] == task and body["reason"] == "HTTP 400"
    assert body["failed_at"] == "2026-11-23T00:00:00Z" and letter.key == b"t"
    raw = DeadLetter("slack", "not JSON", "p.playbook-tasks", 0, 1, b"\xffoops")
    assert json.loads(raw.to_json())["payload"].endswith("oops") and raw.key is None


# -- settings ------------------------------------------------------------------------------


def test_secrets_from_variable_or_file_never_both(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text("xoxb-from-file\n")
    env = sink_settings.Env({"SLACK_BOT_TOKEN_FILE": str(secret)}, env_file=None)
    assert sink_settings.slack(env).token == "xoxb-from-file"
    assert "xoxb" not in repr(sink_settings.slack(env))
    both = sink_settings.Env(
        {"SLACK_BOT_TOKEN": "a", "SLACK_BOT_TOKEN_FILE": str(secret)}, env_file=None
    )
    with pytest.raises(SettingsError, match="both set"):
        sink_settings.slack(both)


def test_every_bad_setting_is_named_at_once() -> None:
    env = sink_settings.Env(
        {
            "CS_DELIVERY_MAX_ATTEMPTS": "0",
            "CS_DELIVERY_BACKOFF_INITIAL_SECONDS": "soon",
            "SLACK_API_URL": "slack.com/api",
            "CS_ACCOUNT_URL_TEMPLATE": "https://x/{account}",
        },
        env_file=None,
    )
    sink_settings.common(env)
    with pytest.raises(SettingsError) as raised:
        sink_settings.slack(env)
    text = str(raised.value)
    for name in (
        "CS_DELIVERY_MAX_ATTEMPTS",
        "CS_DELIVERY_BACKOFF_INITIAL_SECONDS",
        "SLACK_API_URL",
        "CS_ACCOUNT_URL_TEMPLATE",
        "SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE) is required",
    ):
        assert name in text


def test_salesforce_needs_an_instance_and_webhook_a_url() -> None:
    with pytest.raises(SettingsError, match="SALESFORCE_INSTANCE_URL is required"):
        sink_settings.salesforce(sink_settings.Env({"SALESFORCE_ACCESS_TOKEN": "t"}, None))
    with pytest.raises(SettingsError, match="URL='ftp://x'"):
        sink_settings.webhook(sink_settings.Env({"CS_WEBHOOK_SECRET": "s"}, None), "ftp://x", None)


def test_cli_exits_2_naming_the_missing_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN_FILE", "HUBSPOT_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    mapping = tmp_path / "owners.yaml"
    mapping.write_text("owners: {csm-a: C1}\n")
    assert main(["notify", "slack", "--mapping", str(mapping)]) == 2
    assert "SLACK_BOT_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    mapping.write_text("owners: {csm-a: {channel: C1, timezone: Mars/Base}}\n")
    assert main(["notify", "slack", "--mapping", str(mapping)]) == 2
    assert "owners.csm-a.timezone" in capsys.readouterr().err
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat")
    mapping.write_text("fields: {hs_task_subject: '{nope}'}\n")
    assert main(["sync", "hubspot", "--mapping", str(mapping)]) == 2
    assert "fields.hs_task_subject" in capsys.readouterr().err
