"""Every request passes here: security headers; the session (signed cookie, or the identity a
trusted reverse proxy puts in a header); nothing but the sign-in page and its stylesheet
without one; and on every POST the Origin check and the session's CSRF token.

Cross-site requests: session cookies are SameSite=Strict, so another site's form never carries
them; a POST must also come from the board's own origin (`Origin`, else `Referer`; with
`--public-origin` that exact origin, else the request's own host) and carry the session's CSRF
token (form field `csrf` or header `X-CSRF-Token`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlsplit

from aiohttp import web

from workers.board.auth import User
from workers.board.context import CONTEXT, BoardContext
from workers.board.html import e
from workers.board.sessions import SESSION_COOKIE, Session, tokens_match

PUBLIC_PATHS = frozenset({"/login", "/static/board.css"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _harden(response: web.StreamResponse) -> None:
    if response.prepared:
        return
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cache-Control", "no-store")


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _harden(exc)
        raise
    _harden(response)
    return response


def same_origin(request: web.Request, public_origin: str | None) -> bool:
    """Whether a state-changing request comes from the board's own pages."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return False
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        referer = request.headers.get("Referer")
        if not referer:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    if public_origin:
        return origin.rstrip("/") == public_origin
    return urlsplit(origin).netloc.lower() == request.host.lower()


def refuse(status: int, text: str) -> web.HTTPException:
    cls = {401: web.HTTPUnauthorized, 403: web.HTTPForbidden}[status]
    return cls(text=text + "\n", content_type="text/plain")


def resolve(ctx: BoardContext, request: web.Request) -> tuple[User | None, Session | None, bool]:
    """(user, session, whether the session is new and needs its cookie set)."""
    users = ctx.users.current()
    session = ctx.codec.decode(request.cookies.get(SESSION_COOKIE))
    header = ctx.settings.trusted_header
    if header:
        name = (request.headers.get(header) or "").strip()
        user = users.get(name)
        if user is None:
            return None, None, False
        if session is None or session.user != name or session.fingerprint != user.fingerprint:
            return user, ctx.codec.new(name, user.fingerprint), True
        return user, session, False
    if session is None:
        return None, None, False
    user = users.get(session.user)
    if user is None or user.fingerprint != session.fingerprint:
        return None, None, False
    return user, session, False


def set_session_cookie(ctx: BoardContext, response: web.StreamResponse, session: Session) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        ctx.codec.encode(session),
        max_age=int(ctx.settings.session_hours * 3600),
        path="/",
        httponly=True,
        samesite="Strict",
        secure=ctx.settings.secure_cookies,
    )


def _bounce(request: web.Request) -> web.StreamResponse:
    """A page that reloads itself: a link from another site (Slack, a CRM) arrives without the
    SameSite=Strict cookie; the same URL opened from the board's own page carries it."""
    target = e(request.path_qs)
    return web.Response(
        text=f'<!doctype html><meta http-equiv="refresh" content="0;url={target}">'
        f'<p><a href="{target}">Continue to the board</a></p>',
        content_type="text/html",
    )


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = request.app[CONTEXT]
    if request.path in PUBLIC_PATHS:
        return await handler(request)
    user, session, fresh = resolve(ctx, request)
    if user is None or session is None:
        if ctx.settings.trusted_header:
            raise refuse(401, "The reverse proxy did not identify a known board user.")
        if request.method in ("GET", "HEAD") and not _is_data_path(request.path):
            if request.headers.get("Sec-Fetch-Site") == "cross-site":
                return _bounce(request)
            raise web.HTTPSeeOther("/login?next=" + quote(request.path_qs, safe="/"))
        raise refuse(401, "Sign in first.")
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        if not same_origin(request, ctx.settings.public_origin):
            ctx.log.warning("cross_site_request_refused", path=request.path, user=user.name)
            raise refuse(403, "Refused: this request did not come from the board's own pages.")
        form = await request.post()
        given = request.headers.get("X-CSRF-Token") or form.get("csrf")
        if fresh or not tokens_match(session.csrf, given if isinstance(given, str) else None):
            ctx.log.warning("csrf_token_refused", path=request.path, user=user.name)
            raise refuse(403, "Refused: the form's security token is missing or stale. Reload.")
    request["user"] = user
    request["session"] = session
    response = await handler(request)
    if fresh and not response.prepared:
        set_session_cookie(ctx, response, session)
    return response


def _is_data_path(path: str) -> bool:
    return path == "/live" or path.startswith(("/fragment/", "/static/"))
