"""The board for integration tests: a real `cs-signals board` process against the test's
namespace, a users file, a plain HTTP client that follows no redirects, and Chromium."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from tests.integration.harness import ROOT, Namespace
from workers.board.auth import hash_password
from workers.local.embedded import free_port

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Where the tests save their screenshots; README's come from a run with
# CS_BOARD_SCREENSHOTS=docs/screenshots.
SCREENSHOTS = Path(os.environ.get("CS_BOARD_SCREENSHOTS") or ROOT / "build" / "screenshots")
SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
USERS = {
    "ana": ("csm", "csm-ana", "Ana Ortiz", "ana-password"),
    "bo": ("csm", "csm-bo", "Bo Lindqvist", "bo-password"),
    "lena": ("lead", "lena", "Lena Park", "lena-password"),
}


def write_users(path: Path) -> Path:
    lines = ["users:"]
    for name, (role, csm_id, display, password) in USERS.items():
        lines.append(
            f"  {name}: {{role: {role}, csm_id: {csm_id}, name: {display}, "
            f"password: '{hash_password(password)}'}}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


class BoardProcess:
    def __init__(self, ns: Namespace, users_file: Path, *extra: str) -> None:
        self.ns = ns
        self.port = free_port()
        self.users_file = users_file
        self.extra = extra
        fd, path = tempfile.mkstemp(prefix="cs-it-board-", suffix=".log")
        os.close(fd)
        self.log_path = Path(path)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 40.0) -> BoardProcess:
        env = self.ns.env("board")
        env["CS_BOARD_SECRET"] = SECRET
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "workers.cli", "board", "--port", str(self.port),
                 "--users", str(self.users_file), "--clock", "event", *self.extra],
                env=env,
                cwd=str(ROOT),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"board exited {self.proc.returncode}:\n{self.log()}")
            try:
                if Http(self).get("/login").status in (200, 303):  # 303: behind a proxy
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the board did not answer in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        if not os.environ.get("CS_KEEP_TEST_LOGS"):
            self.log_path.unlink(missing_ok=True)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Http:
    """A cookie-keeping client that follows no redirects (to see every refusal as it is)."""

    board: BoardProcess
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, form: dict[str, str] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.board.port, timeout=10)
        all_headers = dict(headers or {})
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, path, body=body, headers=all_headers)
            response = conn.getresponse()
            text = response.read().decode("utf-8", "replace")
            for raw in response.headers.get_all("Set-Cookie") or []:
                jar = SimpleCookie(raw)
                for name, morsel in jar.items():
                    if morsel["max-age"] == "0" or not morsel.value:
                        self.cookies.pop(name, None)
                    else:
                        self.cookies[name] = morsel.value
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, text)
        finally:
            conn.close()

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, form: dict[str, str], **kw: Any) -> Reply:
        return self.request("POST", path, form=form, **kw)

    def sign_in(self, user: str) -> None:
        page = self.get("/login")
        token = csrf_of(page.body)
        reply = self.post(
            "/login",
            {"csrf": token, "username": user, "password": USERS[user][3], "next": "/"},
            headers={"Origin": self.board.url},
        )
        assert reply.status == 303, (reply.status, reply.body[:500])


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:1000]
    return match.group(1)


def chromium_or_skip() -> Any:
    """The Playwright module, or a skip that says what is missing."""
    import pytest

    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (.ci/run does)")
    try:
        from playwright import sync_api
    except ImportError:
        pytest.skip("Playwright is not installed: pip install -e '.[test]'")
    return sync_api


class Browser:
    """A headless Chromium with a fresh profile, driven by Playwright."""

    def __init__(self, sync_api: Any) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="cs-it-chromium-"))
        self.playwright = sync_api.sync_playwright().start()
        self.context = self.playwright.chromium.launch_persistent_context(
            str(self.profile),
            executable_path=str(CHROMIUM),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1360, "height": 880},
        )
        self.context.set_default_timeout(15_000)

    def page(self) -> Any:
        return self.context.pages[0] if self.context.pages else self.context.new_page()

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self.playwright.stop()
            shutil.rmtree(self.profile, ignore_errors=True)


def screenshot(page: Any, name: str, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
