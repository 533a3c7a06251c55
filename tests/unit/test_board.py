"""The board's pure parts: passwords, the users file, sessions, origin and CSRF checks,
settings, the feedback it publishes, and the HTML it renders. No broker, no Redis."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request

from config.settings import SettingsError
from workers.board.auth import (
    LoginLimiter,
    UserDirectory,
    UsersFileError,
    check_credentials,
    hash_password,
    load_users,
    verify_password,
)
from workers.board.chart import health_chart
from workers.board.context import BoardContext
from workers.board.feedback import FeedbackError, build_feedback
from workers.board.html import e
from workers.board.keys import Keys
from workers.board.routes import build_app, safe_next
from workers.board.security import same_origin
from workers.board.sessions import SESSION_COOKIE, SessionCodec
from workers.board.settings import load_board_settings
from workers.board.store import is_risk

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s" * 40
TASK = {"task_id": "t-1", "account_id": "acc-1", "playbook": "nps_detractor"}
NOW = datetime(2026, 9, 1, 10, tzinfo=UTC)


class _Log:
    def __getattr__(self, name: str) -> Any:
        return lambda *a, **k: None


def _users_file(tmp_path: Path, body: str | None = None) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        body
        or "users:\n"
        f"  ana: {{role: csm, csm_id: csm-ana, password: '{hash_password('pw-ana')}'}}\n"
        f"  lena: {{role: lead, password: '{hash_password('pw-lena')}'}}\n"
    )
    return path


def test_password_hashes_are_salted_and_verified() -> None:
    first, second = hash_password("secret"), hash_password("secret")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("secret", first) and verify_password("secret", second)
    assert not verify_password("Secret", first)
    assert not verify_password("secret", "plain-text") and not verify_password("x", "scrypt$1$2")


def test_users_file_and_credentials(tmp_path: Path) -> None:
    users = load_users(_users_file(tmp_path))
    assert users["ana"].csm_id == "csm-ana" and not users["ana"].is_lead
    assert users["lena"].is_lead and users["lena"].csm_id == "lena"
    assert check_credentials(users, "ana", "pw-ana") == users["ana"]
    assert check_credentials(users, "ana", "pw-lena") is None
    assert check_credentials(users, "nobody", "pw-ana") is None


def test_users_file_errors_name_the_user_and_field(tmp_path: Path) -> None:
    path = _users_file(
        tmp_path,
        "users:\n  ana: {role: boss, password: 'x'}\n  bo: {role: csm, colour: red}\n",
    )
    with pytest.raises(UsersFileError) as info:
        load_users(path)
    text = str(info.value)
    assert "users.ana.role='boss': must be 'csm' or 'lead'" in text
    assert "users.ana.password: not a scrypt" in text
    assert "users.bo: unknown field(s) colour" in text and "users.bo.password is required" in text
    with pytest.raises(UsersFileError, match="cannot read"):
        load_users(tmp_path / "missing.yaml")
    # Behind a trusted proxy header, users need no password.
    ok = _users_file(tmp_path, "users:\n  bo: {role: csm}\n")
    assert load_users(ok, need_passwords=False)["bo"].password_hash is None


def test_user_directory_reloads_and_a_password_change_ends_sessions(tmp_path: Path) -> None:
    path = _users_file(tmp_path)
    directory = UserDirectory(path, True, _Log(), every=0)
    before = directory.current()["ana"].fingerprint
    path.write_text(f"users:\n  ana: {{role: csm, password: '{hash_password('new')}'}}\n")
    import os

    os.utime(path, (1, 1))
    assert directory.current()["ana"].fingerprint != before
    assert "lena" not in directory.current()


def test_sessions_are_signed_and_expire() -> None:
    codec = SessionCodec(SECRET.encode(), 3600)
    session = codec.new("ana", "fp")
    cookie = codec.encode(session)
    assert codec.decode(cookie) == session
    payload, signature = cookie.split(".")
    forged = json.dumps({"u": "lena", "c": session.csrf, "t": session.issued, "f": "fp"})
    import base64

    forged_payload = base64.urlsafe_b64encode(forged.encode()).rstrip(b"=").decode()
    assert codec.decode(f"{forged_payload}.{signature}") is None
    assert codec.decode(cookie[:-2] + "AA") is None
    assert codec.decode(cookie, now=session.issued + 3601) is None
    assert SessionCodec(b"another secret", 3600).decode(cookie) is None
    assert codec.decode(None) is None and codec.decode("garbage") is None


@pytest.mark.parametrize(
    ("headers", "public", "ok"),
    [
        ({"Origin": "http://board.local:8080"}, None, True),
        ({"Origin": "https://evil.example"}, None, False),
        ({"Origin": "null"}, None, False),
        ({}, None, False),
        ({"Referer": "http://board.local:8080/accounts/a"}, None, True),
        ({"Referer": "http://evil.example/x"}, None, False),
        ({"Origin": "http://board.local:8080", "Sec-Fetch-Site": "cross-site"}, None, False),
        ({"Origin": "http://board.local:8080", "Sec-Fetch-Site": "same-site"}, None, False),
        ({"Origin": "https://board.example.com"}, "https://board.example.com", True),
        ({"Origin": "http://board.local:8080"}, "https://board.example.com", False),
    ],
)
def test_same_origin(headers: dict[str, str], public: str | None, ok: bool) -> None:
    request = make_mocked_request("POST", "/x", headers={"Host": "board.local:8080", **headers})
    assert same_origin(request, public) is ok


def test_safe_next_stays_on_the_board() -> None:
    assert safe_next("/accounts/a?x=1") == "/accounts/a?x=1"
    for bad in ("https://evil.example", "//evil.example", "/\\evil", "", None):
        assert safe_next(bad) == "/"


def test_settings_errors_name_the_field(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as info:
        load_board_settings({"port": "99999", "clock": "sundial"}, environ={}, env_file=None)
    text = str(info.value)
    for expected in (
        "--users FILE (or CS_BOARD_USERS) is required",
        "CS_BOARD_SECRET",
        "--port='99999'",
        "--clock='sundial'",
    ):
        assert expected in text, text
    with pytest.raises(SettingsError, match="at least 32 characters"):
        load_board_settings(
            {"users": str(_users_file(tmp_path))},
            environ={"CS_BOARD_SECRET": "short"},
            env_file=None,
        )
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET)
    board = load_board_settings(
        {"users": str(_users_file(tmp_path)), "public_origin": "https://b.example.com/"},
        environ={"CS_BOARD_SECRET_FILE": str(secret_file), "CS_BOARD_PORT": "9000"},
        env_file=None,
    )
    assert board.port == 9000 and board.secret == SECRET.encode() and board.secure_cookies
    assert board.public_origin == "https://b.example.com" and "s" * 40 not in repr(board)


def test_feedback_events_follow_the_contract() -> None:
    snooze = build_feedback(TASK, {"action": "snoozed", "snooze_for": "1d"}, "ana", NOW)
    assert snooze["until"] == "2026-09-02T10:00:00Z" and snooze["source"] == "board"
    assert snooze["by"] == "ana" and snooze["occurred_at"] == "2026-09-01T10:00:00Z"
    until = build_feedback(TASK, {"action": "snoozed", "until": "2026-09-05T09:30"}, "ana", NOW)
    assert until["until"] == "2026-09-05T09:30:00Z"
    dismissed = build_feedback(
        TASK, {"action": "dismissed", "reason": "wrong_owner", "note": " not mine "}, "ana", NOW
    )
    assert dismissed["reason"] == "wrong_owner" and dismissed["note"] == "not mine"
    done = build_feedback(TASK, {"action": "done"}, "ana", NOW)
    assert done["event_id"] != dismissed["event_id"] and "until" not in done
    for form in (
        {"action": "snoozed"},
        {"action": "dismissed"},
        {"action": "deleted"},
        {"action": "snoozed", "until": "2026-08-01T00:00"},
    ):
        with pytest.raises(FeedbackError):
            build_feedback(TASK, form, "ana", NOW)


def test_risk_playbooks() -> None:
    assert is_risk("usage_drop", "high") and is_risk("nps_detractor", "medium")
    assert not is_risk("renewal_approaching", "critical")
    assert not is_risk("expansion_signal", "high")
    assert is_risk("ticket_pileup", "high") and not is_risk("ticket_pileup", "medium")


def test_rendering_escapes_data_and_draws_the_chart() -> None:
    assert e('<script>"x"</script>') == "&lt;script&gt;&quot;x&quot;&lt;/script&gt;"
    points = [
        {"t": (NOW + timedelta(days=i)).isoformat(), "s": 60 + i, "b": "at_risk<b>"}
        for i in range(5)
    ]
    svg = health_chart(points, NOW + timedelta(days=6))
    assert svg.count('<circle class="point"') == 5 and "at_risk&lt;b&gt;" in svg
    assert "no health history yet" in health_chart([])


def test_login_limiter() -> None:
    limiter = LoginLimiter(limit=3, window=60)
    for _ in range(3):
        assert not limiter.blocked("ana", "1.2.3.4")
        limiter.failed("ana", "1.2.3.4")
    assert limiter.blocked("ana", "5.6.7.8") and limiter.blocked("bo", "1.2.3.4")
    assert not limiter.blocked("bo", "5.6.7.8")


# -- the app without Redis or Kafka: refusals happen before any data is read -----------------


def _client(tmp_path: Path, trusted_header: str | None = None) -> tuple[TestClient, Any]:
    from workers.board.settings import BoardSettings

    users = _users_file(tmp_path)
    settings = BoardSettings("127.0.0.1", 0, users, SECRET.encode(), trusted_header)
    codec = SessionCodec(settings.secret, 3600)
    ctx = BoardContext(
        settings,
        UserDirectory(users, not trusted_header, _Log()),
        codec,
        None,
        Keys("cs:t:"),
        None,
        None,
        _Log(),
    )  # type: ignore[arg-type]
    return TestClient(TestServer(build_app(ctx))), ctx


def test_app_refuses_without_a_session_and_cross_site_posts(tmp_path: Path) -> None:
    async def scenario() -> None:
        client, ctx = _client(tmp_path)
        async with client:
            for path in ("/", "/team", "/accounts/acc-1"):
                reply = await client.get(path, allow_redirects=False)
                assert reply.status == 303 and reply.headers["Location"].startswith("/login")
            assert (await client.get("/live")).status == 401
            assert (await client.get("/static/board.js")).status == 401
            assert (await client.get("/static/board.css")).status == 200
            # Arriving from another site without the Strict cookie: a same-site reload page.
            bounce = await client.get(
                "/accounts/acc-1", headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
            )
            assert bounce.status == 200 and 'http-equiv="refresh"' in await bounce.text()
            session = ctx.codec.new("ana", ctx.users.current()["ana"].fingerprint)
            client.session.cookie_jar.update_cookies({SESSION_COOKIE: ctx.codec.encode(session)})
            form = {"action": "done", "csrf": session.csrf}
            evil = await client.post(
                "/tasks/t-1/feedback", data=form, headers={"Origin": "https://evil.example"}
            )
            assert evil.status == 403
            no_token = await client.post(
                "/tasks/t-1/feedback",
                data={"action": "done"},
                headers={"Origin": str(client.make_url("")).rstrip("/")},
            )
            assert no_token.status == 403
            page = await client.get("/login")
            assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
            assert page.headers["X-Frame-Options"] == "DENY"

    asyncio.run(scenario())


def test_trusted_header_identifies_known_users_only(tmp_path: Path) -> None:
    async def scenario() -> None:
        client, _ctx = _client(tmp_path, trusted_header="X-Remote-User")
        async with client:
            assert (await client.get("/team", allow_redirects=False)).status == 401
            unknown = await client.get("/team", headers={"X-Remote-User": "mallory"})
            assert unknown.status == 401
            login = await client.get("/login", allow_redirects=False)
            assert login.status == 303  # no sign-in form behind the proxy

    asyncio.run(scenario())


def test_cli_hash_password_and_bad_configuration(tmp_path: Path) -> None:
    hashed = subprocess.run(
        [sys.executable, "-m", "workers.cli", "board", "--hash-password"],
        input="correct horse\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout.strip()
    assert verify_password("correct horse", hashed)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    bad = subprocess.run(
        [sys.executable, "-m", "workers.cli", "board", "--users", str(tmp_path / "none.yaml")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert bad.returncode == 2
    assert "CS_BOARD_SECRET (or CS_BOARD_SECRET_FILE) is required" in bad.stderr
    assert "none.yaml'" in bad.stderr and "no such file" in bad.stderr
