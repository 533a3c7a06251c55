"""The board's pages and actions (aiohttp). Every route but /login and the stylesheet needs a
session (workers/board/security.py); every POST is checked for its origin and CSRF token."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from workers.board.account_page import ACCOUNT_SECTIONS, account_body, account_sections
from workers.board.auth import check_credentials
from workers.board.context import CONTEXT, BoardContext
from workers.board.feedback import FeedbackError, build_feedback
from workers.board.html import e, layout, message_page
from workers.board.keys import parse_time
from workers.board.live import cancel_streams, live_handler, redis_millis
from workers.board.pages import (
    BOOK_SECTIONS,
    TEAM_SECTIONS,
    book_body,
    book_sections,
    login_page,
    team_body,
    team_sections,
)
from workers.board.security import (
    headers_middleware,
    refuse,
    same_origin,
    session_middleware,
    set_session_cookie,
)
from workers.board.sessions import PRELOGIN_COOKIE, SESSION_COOKIE, new_token, tokens_match
from workers.board.widgets import View

STATIC = Path(__file__).resolve().parent / "static"
NOTICES = {
    "acknowledged": "Acknowledged: your feedback was published.",
    "snoozed": "Snoozed: updates of this task are held until then.",
    "done": "Marked done: the task resolves in a moment.",
    "dismissed": "Dismissed: the task resolves in a moment. Thank you for the reason.",
}


def safe_next(value: object) -> str:
    """A local path to go back to (never another site)."""
    text = value if isinstance(value, str) else ""
    if not text.startswith("/") or text.startswith("//") or "\\" in text:
        return "/"
    return text


def _html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


async def _view(request: web.Request, csm: str | None = None) -> View:
    ctx = request.app[CONTEXT]
    return View(
        user=request["user"],
        csrf=request["session"].csrf,
        now=await ctx.store.now(),
        path=request.path_qs,
        csm=csm or None,
    )


def _page(request: web.Request, title: str, body: str, active: str, page: str, key: str,
          since: int) -> web.Response:
    ctx = request.app[CONTEXT]
    notice = NOTICES.get(request.query.get("notice", ""))
    banner = f'<div class="notice" role="status">{e(notice)}</div>' if notice else ""
    return _html(
        layout(
            title,
            banner + body,
            user=request["user"],
            csrf=request["session"].csrf,
            active=active,
            live_since=since,
            page=page,
            page_key=key,
            trusted_header=bool(ctx.settings.trusted_header),
        )
    )


# -- sign-in ---------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if ctx.settings.trusted_header:
        raise web.HTTPSeeOther("/")
    # One token per browser while it signs in (several tabs, or a redirected favicon
    # request, must not replace the token of the form already shown).
    existing = request.cookies.get(PRELOGIN_COOKIE, "")
    token = existing if 20 <= len(existing) <= 100 and existing.isascii() else new_token()
    next_path = safe_next(request.query.get("next"))
    response = _html(layout("Sign in", login_page(token, next_path=next_path)))
    _prelogin_cookie(ctx, response, token)
    return response


def _prelogin_cookie(ctx: BoardContext, response: web.StreamResponse, token: str) -> None:
    response.set_cookie(PRELOGIN_COOKIE, token, max_age=1800, path="/login", httponly=True,
                        samesite="Strict", secure=ctx.settings.secure_cookies)


async def login_submit(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if ctx.settings.trusted_header:
        raise web.HTTPSeeOther("/")
    if not same_origin(request, ctx.settings.public_origin):
        raise refuse(403, "Refused: this sign-in did not come from the board's own page.")
    form = await request.post()
    token = form.get("csrf")
    if not tokens_match(request.cookies.get(PRELOGIN_COOKIE), token if isinstance(token, str)
                        else None):
        raise refuse(403, "Refused: the sign-in form's security token is missing or stale.")
    name = str(form.get("username") or "").strip()
    password = str(form.get("password") or "")
    address = request.remote or "?"
    next_path = safe_next(form.get("next"))
    if ctx.limiter.blocked(name, address):
        ctx.log.warning("sign_in_throttled", user=name, address=address)
        return _html(layout("Sign in", login_page(str(token), "Too many failed attempts; wait a "
                                                  "few minutes.", next_path)), 429)
    user = await asyncio.to_thread(check_credentials, ctx.users.current(), name, password)
    if user is None:
        ctx.limiter.failed(name, address)
        ctx.log.info("sign_in_failed", user=name, address=address)
        fresh = new_token()
        response = _html(layout("Sign in", login_page(fresh, "Wrong user name or password.",
                                                      next_path)), 401)
        _prelogin_cookie(ctx, response, fresh)
        return response
    ctx.log.info("signed_in", user=user.name, role=user.role)
    response = web.HTTPSeeOther(next_path)
    set_session_cookie(ctx, response, ctx.codec.new(user.name, user.fingerprint))
    response.del_cookie(PRELOGIN_COOKIE, path="/login")
    return response


async def logout(request: web.Request) -> web.StreamResponse:
    response = web.HTTPSeeOther("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages -----------------------------------------------------------------------------------


async def book(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    user = request["user"]
    csm = request.query.get("csm") if user.is_lead else None
    view = await _view(request, csm)
    since = await redis_millis(ctx)
    sections = await book_sections(ctx.store, view)
    csms = sorted({a.csm_id for a in await ctx.store.accounts() if a.csm_id})
    title = "My book" if not user.is_lead else "Book"
    body = book_body(view, sections, csms)
    return _page(request, title, body, "book", "book", view.csm or "", since)


async def account(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    account_id = request.match_info["account_id"]
    found = await ctx.store.account(account_id)
    if found is None or not await ctx.store.can_see(request["user"], account_id):
        return _html(message_page("Not found", f"No account {account_id!r} in your book."), 404)
    view = await _view(request)
    since = await redis_millis(ctx)
    sections = await account_sections(ctx.store, view, found)
    body = account_body(found, sections)
    return _page(request, found.name or account_id, body, "", "account", account_id, since)


async def team(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if not request["user"].is_lead:
        return _html(message_page("Leads only", "The team view is for CS leads."), 403)
    view = await _view(request)
    since = await redis_millis(ctx)
    sections = await team_sections(ctx.store, view, _names(ctx))
    return _page(request, "Team", team_body(sections), "team", "team", "", since)


def _names(ctx: BoardContext) -> dict[str, str]:
    return {u.csm_id: u.display for u in ctx.users.current().values() if not u.is_lead}


async def fragment(request: web.Request) -> web.StreamResponse:
    """One section of a page, re-rendered for a live update."""
    ctx = request.app[CONTEXT]
    page, name = request.match_info["page"], request.match_info["section"]
    key = request.query.get("key", "")
    user = request["user"]
    html: dict[str, str] = {}
    if page == "book" and name in BOOK_SECTIONS:
        view = await _view(request, key if user.is_lead else None)
        html = await book_sections(ctx.store, _with_path(view, "/" + _csm_query(key)), name)
    elif page == "account" and name in ACCOUNT_SECTIONS:
        found = await ctx.store.account(key)
        if found is None or not await ctx.store.can_see(user, key):
            raise web.HTTPNotFound()
        view = _with_path(await _view(request), f"/accounts/{quote(key, safe='')}")
        html = await account_sections(ctx.store, view, found, name)
    elif page == "team" and name in TEAM_SECTIONS and user.is_lead:
        view = _with_path(await _view(request), "/team")
        html = await team_sections(ctx.store, view, _names(ctx), name)
    if name not in html:
        raise web.HTTPNotFound()
    return _html(html[name])


def _csm_query(csm: str) -> str:
    return f"?csm={quote(csm, safe='')}" if csm else ""


def _with_path(view: View, path: str) -> View:
    return View(view.user, view.csrf, view.now, path, view.csm)


# -- actions ---------------------------------------------------------------------------------


async def task_feedback(request: web.Request) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    user = request["user"]
    task_id = request.match_info["task_id"]
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    task = await ctx.store.open_task(task_id)
    visible = task is not None and (
        user.is_lead
        or task["owner_id"] == user.csm_id
        or await ctx.store.can_see(user, task["account_id"])
    )
    if task is None or not visible:
        return _html(message_page("Task not open", "This task is not open (any more), or not "
                                  "yours: nothing was sent."), 409)
    occurred_at = await ctx.store.now()
    if ctx.settings.clock == "event":
        # Event time: no earlier than what the worker has already seen of this account.
        account = await ctx.store.account(task["account_id"])
        seen = [parse_time(task["occurred_at"]), parse_time(task["created_at"])]
        seen.append(account.computed_at if account else None)
        occurred_at = max(t for t in seen if t is not None)
    try:
        event = build_feedback(task.body, form, user.name, occurred_at)
    except FeedbackError as exc:
        return _html(message_page("Not sent", str(exc)), 400)
    if ctx.publisher is None:
        return _html(message_page("Not sent", "Kafka is not connected."), 503)
    try:
        await ctx.publisher.publish(event)
    except Exception as exc:  # the broker is down: say so, send nothing else
        ctx.log.error("feedback_publish_failed", task_id=task_id, error=str(exc))
        return _html(message_page("Not sent", "Kafka did not accept the feedback; try again."),
                     503)
    entry = {k: event.get(k) for k in ("event_id", "action", "by", "source", "until", "reason",
                                       "note")}
    entry["at"] = event["occurred_at"]
    await ctx.store.add_feedback(task_id, entry, occurred_at)
    target = safe_next(form.get("next"))
    joiner = "&" if "?" in target else "?"
    raise web.HTTPSeeOther(f"{target}{joiner}notice={event['action']}")


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    types = {"board.css": "text/css", "board.js": "application/javascript"}
    if name not in types:
        raise web.HTTPNotFound()
    response = web.Response(body=(STATIC / name).read_bytes(), content_type=types[name])
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


def build_app(ctx: BoardContext) -> web.Application:
    app = web.Application(middlewares=[headers_middleware, session_middleware],
                          client_max_size=64 * 1024)
    app[CONTEXT] = ctx
    app.on_shutdown.append(cancel_streams)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout)
    app.router.add_get("/", book)
    app.router.add_get("/accounts/{account_id}", account)
    app.router.add_get("/team", team)
    app.router.add_get("/fragment/{page}/{section}", fragment)
    app.router.add_get("/live", live_handler)
    app.router.add_post("/tasks/{task_id}/feedback", task_feedback)
    app.router.add_get("/static/{name}", static)
    return app
