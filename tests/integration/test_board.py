"""The CSM board end to end: a real worker and a real `cs-signals board` on the embedded broker
and Redis, driven by a headless Chromium (Playwright) and by plain HTTP.

Screenshots go to build/screenshots/ (CS_BOARD_SCREENSHOTS=docs/screenshots refreshes the
README's).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.board_harness import (
    BoardProcess,
    Browser,
    Http,
    chromium_or_skip,
    csrf_of,
    screenshot,
    write_users,
)
from tests.integration.harness import (
    Namespace,
    WorkerProcess,
    account_event,
    nps_event,
    produce,
    produce_in_order,
    read_topic,
    ticket_event,
    ts,
    usage_event,
)
from workers.local.embedded import EmbeddedBroker

pytestmark = pytest.mark.integration

ACCOUNTS = {
    # account: (name, segment, csm, arr, seats, active users, features)
    "acc-northwind": ("Northwind Traders", "enterprise", "csm-ana", 240_000, 20, 12, 5),
    "acc-globex": ("Globex", "mid_market", "csm-ana", 96_000, 10, 4, 2),
    "acc-initech": ("Initech", "smb", "csm-ana", 18_000, 6, 2, 1),
    "acc-umbrella": ("Umbrella Corp", "enterprise", "csm-bo", 310_000, 20, 5, 3),
    "acc-hooli": ("Hooli", "mid_market", "csm-bo", 120_000, 10, 8, 4),
}
FEATURES = ["dashboards", "reports", "alerts", "integrations", "automation", "exports"]
NPS = [("acc-northwind", 9, 3), ("acc-globex", 8, 4), ("acc-initech", 10, 5),
       ("acc-umbrella", 5, 6), ("acc-hooli", 9, 7), ("acc-northwind", 7, 8),
       ("acc-globex", 7, 10), ("acc-northwind", 8, 12)]


def _seed(ns: Namespace) -> None:
    facts = [
        account_event(a, ts(0, 8), name=n, segment=s, csm_id=c, arr=arr, licensed_seats=seats,
                      renewal_date="2027-01-15", champion_user_id="user-0")
        for a, (n, s, c, arr, seats, _u, _f) in ACCOUNTS.items()
    ]
    usage = [
        usage_event(a, f"user-{u}", ts(day, 9 + u % 8), FEATURES[(u + day) % features])
        for a, (_n, _s, _c, _arr, _seats, users, features) in ACCOUNTS.items()
        for day in range(14)
        for u in range(users if day < 10 or a != "acc-globex" else 2)
    ]
    tickets = [
        ticket_event("acc-umbrella", "T-101", "opened", ts(9), "high"),
        ticket_event("acc-umbrella", "T-101", "escalated", ts(10), "high"),
        ticket_event("acc-hooli", "T-202", "opened", ts(11), "normal"),
    ]
    nps = [nps_event(a, score, ts(day, 15)) for a, score, day in NPS]
    produce_in_order(
        ns,
        [("account-events", facts), ("usage-events", usage), ("ticket-events", tickets),
         ("nps-events", nps)],
    )


@dataclass
class Stack:
    ns: Namespace
    worker: WorkerProcess
    board: BoardProcess


@pytest.fixture(scope="module")
def stack(broker: EmbeddedBroker, redis_url: str, tmp_path_factory: Any) -> Iterator[Stack]:
    ns = Namespace(bootstrap=broker.bootstrap, redis_url=redis_url)
    worker = WorkerProcess(ns, "board-w1")
    board: BoardProcess | None = None
    try:
        worker.start()
        _seed(ns)
        users = write_users(tmp_path_factory.mktemp("board") / "users.yaml")
        board = BoardProcess(ns, users).start()
        ready = Stack(ns, worker, board)
        client = ns.redis()
        # The board has read the topics into its own history (facts, scores, its clock).
        _wait(lambda: client.exists(ns.redis_prefix + "board:clock")
              and all(client.hget(ns.redis_prefix + f"board:facts:{a}", "arr") for a in ACCOUNTS),
              "the board's history", ready)
        yield ready
    finally:
        if board is not None:
            board.stop()
        worker.stop()
        if not os.environ.get("CS_KEEP_TEST_LOGS"):
            worker.log_path.unlink(missing_ok=True)
        ns.cleanup_redis()
        ns.cleanup_data()


def _wait(predicate: Any, what: str, stack: Stack, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out: {what}\n--- board\n{stack.board.log()}\n--- worker\n"
                         f"{stack.worker.log()}")


def _sign_in(page: Any, board: BoardProcess, user: str, password: str) -> None:
    page.goto(board.url + "/")
    assert "/login" in page.url  # nothing without a session
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("nav .who")


@pytest.fixture(scope="module")
def chromium() -> Any:
    return chromium_or_skip()


def test_csm_book_live_task_snooze_and_account_chart(stack: Stack, chromium: Any) -> None:
    ns, board = stack.ns, stack.board
    browser = Browser(chromium)
    try:
        page = browser.page()
        page.goto(board.url + "/login")
        screenshot(page, "board-sign-in")
        _sign_in(page, board, "ana", "ana-password")
        # Only Ana's accounts, ranked by health; never Bo's.
        rows = page.locator("section#s-accounts tr[data-account]")
        rows.first.wait_for()
        shown = {rows.nth(i).get_attribute("data-account") for i in range(rows.count())}
        assert shown == {"acc-northwind", "acc-globex", "acc-initech"}
        assert "Umbrella" not in page.content() and "acc-hooli" not in page.content()
        page.wait_for_function("document.getElementById('live-status').classList.contains('on')")
        screenshot(page, "board-my-book")

        # A detractor response: the task appears without a reload, within seconds.
        produced = time.monotonic()
        produce(ns, "nps-events", [nps_event("acc-globex", 2, ts(14, 12))])
        row = page.locator('section#s-tasks tr[data-playbook="nps_detractor"]'
                           '[data-account="acc-globex"]')
        row.wait_for(timeout=15_000)
        appeared = time.monotonic() - produced
        assert appeared < 10, appeared
        task_id = row.get_attribute("data-task-id")
        assert task_id
        page.locator("#toasts .toast").first.wait_for()
        screenshot(page, "board-live-task")

        # Snooze it: a TaskFeedback on task-feedback, from the board, by Ana.
        row.locator("details.more summary").click()
        row.locator("select[name=snooze_for]").select_option("1d")
        row.locator("button.btn-snoozed").click()
        page.wait_for_selector(".notice")
        feedback = _wait(
            lambda: [m for m in read_topic(ns, "task-feedback", idle_ms=500)
                     if m.get("task_id") == task_id],
            "the snooze on task-feedback",
            stack,
        )
        [sent] = feedback
        assert sent["action"] == "snoozed" and sent["by"] == "ana" and sent["source"] == "board"
        assert sent["account_id"] == "acc-globex" and sent["playbook"] == "nps_detractor"
        assert sent["until"] > sent["occurred_at"] and sent["event_id"].startswith("board:")
        status = page.locator(f'tr[data-task-id="{task_id}"] .status.snoozed')
        assert "snoozed until" in status.inner_text()

        # The account page: its health over time as a chart, components, task history.
        page.goto(board.url + "/accounts/acc-globex")
        page.wait_for_selector("#health-chart")
        assert page.locator("#health-chart circle.point").count() >= 3
        assert page.locator("table.components tr").count() >= 4
        assert page.locator("table.history tr.hist-opened").count() >= 1
        screenshot(page, "board-account", full_page=True)
        # Another CSM's account is not in Ana's book.
        page.goto(board.url + "/accounts/acc-umbrella")
        assert "No account" in page.content() and "Umbrella Corp" not in page.content()
    finally:
        browser.close()


def test_lead_sees_every_csm_and_the_team_view(stack: Stack, chromium: Any) -> None:
    browser = Browser(chromium)
    try:
        page = browser.page()
        _sign_in(page, stack.board, "lena", "lena-password")
        rows = page.locator("section#s-accounts tr[data-account]")
        rows.first.wait_for()
        shown = {rows.nth(i).get_attribute("data-account") for i in range(rows.count())}
        assert shown == set(ACCOUNTS)
        screenshot(page, "board-lead-book")
        page.click("nav >> text=Team")
        page.wait_for_selector("table.team")
        csms = page.locator("table.team tr[data-csm]")
        assert {csms.nth(i).get_attribute("data-csm") for i in range(csms.count())} >= {
            "csm-ana",
            "csm-bo",
        }
        _wait(lambda: page.reload() or page.locator("table.risk").count() == 1,
              "risk tasks per week", stack)
        screenshot(page, "board-team", full_page=True)
    finally:
        browser.close()


# -- plain HTTP: nothing without a session, no cross-site posts -----------------------------


def test_unauthenticated_requests_are_refused(stack: Stack) -> None:
    client = Http(stack.board)
    for path in ("/", "/accounts/acc-northwind", "/team", "/?csm=csm-bo"):
        reply = client.get(path)
        assert reply.status == 303 and reply.headers["location"].startswith("/login"), path
        assert "Northwind" not in reply.body
    for path in ("/live", "/fragment/book/tasks", "/fragment/account/score?key=acc-northwind",
                 "/static/board.js"):
        assert client.get(path).status == 401, path
    reply = client.post("/tasks/anything/feedback", {"action": "done"},
                        headers={"Origin": stack.board.url})
    assert reply.status == 401
    # A forged or stale cookie is no session either.
    client.cookies["cs_board_session"] = "eyJ1IjoibGVuYSJ9.forged"
    assert client.get("/team").status == 303
    assert client.get("/login").status == 200  # the sign-in page itself


def test_cross_site_posts_are_refused(stack: Stack) -> None:
    board, ns = stack.board, stack.ns
    # A sign-in posted from another site.
    client = Http(board)
    token = csrf_of(client.get("/login").body)
    form = {"csrf": token, "username": "lena", "password": "lena-password"}
    assert client.post("/login", form, headers={"Origin": "https://evil.example"}).status == 403
    assert client.post("/login", form).status == 403  # no Origin or Referer at all
    assert "cs_board_session" not in client.cookies
    client.sign_in("lena")
    page = client.get("/")
    assert page.status == 200
    session_token = csrf_of(page.body)
    task_id = _an_open_task(ns)
    before = len(read_topic(ns, "task-feedback", idle_ms=500))
    action = {"action": "acknowledged", "csrf": session_token, "next": "/"}
    path = f"/tasks/{task_id}/feedback"
    refused = [
        client.post(path, action, headers={"Origin": "https://evil.example"}),
        client.post(path, action, headers={"Origin": board.url, "Sec-Fetch-Site": "cross-site"}),
        client.post(path, action, headers={"Referer": "https://evil.example/page"}),
        client.post(path, {**action, "csrf": "not-the-token"}, headers={"Origin": board.url}),
        client.post(path, {"action": "acknowledged"}, headers={"Origin": board.url}),
        client.post("/logout", {}, headers={"Origin": "https://evil.example"}),
    ]
    assert [r.status for r in refused] == [403] * len(refused)
    time.sleep(1)
    assert len(read_topic(ns, "task-feedback", idle_ms=500)) == before
    # The same action from the board's own page goes through.
    accepted = client.post(path, action, headers={"Origin": board.url})
    assert accepted.status == 303 and "notice=acknowledged" in accepted.headers["location"]
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert name in page.headers


def _an_open_task(ns: Namespace, owner: str | None = None) -> str:
    import json

    tasks = [json.loads(v) for v in ns.redis().hgetall(ns.redis_prefix + "tasks:open").values()]
    mine = [t for t in tasks if owner is None or t["owner_id"] == owner]
    assert mine, f"the seed raised no task for {owner}"
    return str(mine[0]["task_id"])



def test_identity_from_a_trusted_proxy_header(stack: Stack, tmp_path: Any) -> None:
    users = tmp_path / "users.yaml"
    users.write_text("users:\n  ana: {role: csm, csm_id: csm-ana}\n  lena: {role: lead}\n")
    proxied = BoardProcess(stack.ns, users, "--trusted-header", "X-Remote-User")
    try:
        proxied.start()
        client = Http(proxied)
        assert client.get("/").status == 401  # no header: nobody
        assert client.get("/", headers={"X-Remote-User": "mallory"}).status == 401
        page = client.get("/", headers={"X-Remote-User": "ana"})
        assert page.status == 200 and "acc-northwind" in page.body
        assert "acc-umbrella" not in page.body
        assert "cs_board_session" in client.cookies and 'action="/logout"' not in page.body
        token = csrf_of(page.body)
        task_id = _an_open_task(stack.ns, "csm-ana")
        action = {"action": "acknowledged", "csrf": token, "next": "/"}
        headers = {"X-Remote-User": "ana", "Origin": proxied.url}
        # Ana's token is no good once the proxy says someone else is there.
        swapped = client.post(f"/tasks/{task_id}/feedback", action,
                              headers={**headers, "X-Remote-User": "lena"})
        assert swapped.status == 403
        client.get("/", headers={"X-Remote-User": "ana"})  # Ana's session again
        token = csrf_of(client.get("/", headers={"X-Remote-User": "ana"}).body)
        reply = client.post(f"/tasks/{task_id}/feedback", {**action, "csrf": token},
                            headers=headers)
        assert reply.status == 303 and "notice=acknowledged" in reply.headers["location"]
    finally:
        proxied.stop()
