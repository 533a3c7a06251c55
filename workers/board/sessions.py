"""Sessions in a signed cookie: `<payload>.<signature>`, both base64url; the payload is JSON
{"u": user name, "c": CSRF token, "t": issued (Unix seconds), "f": the user's fingerprint}.

The signature is HMAC-SHA256 under CS_BOARD_SECRET, checked in constant time. A session ends
when it is older than its lifetime, when the secret changes, or when the user's password or
role changes (the fingerprint no longer matches). Cookies are HttpOnly and SameSite=Strict,
and Secure when the public origin is https.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "cs_board_session"
# Before sign-in: a random token the sign-in form repeats (double submit), so a sign-in
# cannot be forged from another site either.
PRELOGIN_COOKIE = "cs_board_prelogin"


@dataclass(frozen=True)
class Session:
    user: str
    csrf: str
    issued: float
    fingerprint: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_token() -> str:
    return secrets.token_urlsafe(32)


class SessionCodec:
    def __init__(self, secret: bytes, lifetime_seconds: float) -> None:
        # A key of its own for sessions, derived from the secret.
        self.key = hmac.new(secret, b"cs-signals-board/session/v1", hashlib.sha256).digest()
        self.lifetime = lifetime_seconds

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self.key, payload.encode("ascii"), hashlib.sha256).digest())

    def new(self, user: str, fingerprint: str) -> Session:
        return Session(user, new_token(), float(int(time.time())), fingerprint)

    def encode(self, session: Session) -> str:
        body = {"u": session.user, "c": session.csrf, "t": int(session.issued),
                "f": session.fingerprint}
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}"

    def decode(self, cookie: str | None, now: float | None = None) -> Session | None:
        """The session in `cookie`, or None when absent, forged, malformed or expired."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 4096:
            return None
        payload, signature = cookie.split(".")
        if not hmac.compare_digest(self._sign(payload), signature):
            return None
        try:
            body = json.loads(_unb64(payload))
            session = Session(str(body["u"]), str(body["c"]), float(body["t"]), str(body["f"]))
        except (ValueError, KeyError, TypeError):
            return None
        age = (time.time() if now is None else now) - session.issued
        if age < -60 or age > self.lifetime:
            return None
        return session


def tokens_match(expected: str | None, given: str | None) -> bool:
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
