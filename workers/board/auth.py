"""Who may use the board: the users file, password hashes, sign-in throttling.

Users file (YAML or JSON):

    users:
      ana:   {role: csm, csm_id: csm-ana, name: Ana Ortiz, password: "scrypt$16384$8$1$…"}
      lena:  {role: lead, name: Lena Park, password: "scrypt$…"}

`role` is `csm` (sees the accounts whose `csm_id` is theirs and the tasks they own) or `lead`
(sees everything, and the team view). `csm_id` defaults to the user name. `password` is a hash
from `cs-signals board --hash-password` (scrypt, a random 16-byte salt per user); with
`--trusted-header` a user needs no password. The file is re-read when it changes; changing a
user's password or removing the user ends their sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROLES = ("csm", "lead")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
_MAXMEM = 64 * 1024 * 1024


class UsersFileError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: str
    csm_id: str
    display: str
    password_hash: str | None

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"

    @property
    def fingerprint(self) -> str:
        """Changes when the password (or role) changes: sessions carry it, so they end then."""
        text = f"{self.role}\x00{self.csm_id}\x00{self.password_hash or ''}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash`, salt and hash in base64."""
    if not password:
        raise ValueError("the password is empty")
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, maxmem=_MAXMEM, dklen=32, **_SCRYPT
    )
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${_b64(salt)}${_b64(digest)}"


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        raise ValueError("not a scrypt$n$r$p$salt$hash string (make one with --hash-password)")
    try:
        n, r, p = (int(x) for x in parts[1:4])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5])
    except ValueError as exc:
        raise ValueError(f"malformed hash ({exc})") from None
    if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or len(digest) < 16:
        raise ValueError("unusable scrypt parameters")
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    try:
        n, r, p, salt, digest = _parse_hash(stored)
        candidate = hashlib.scrypt(
            password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM, dklen=len(digest)
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate, digest)


# A hash to check against when the user does not exist, so a sign-in takes as long for an
# unknown name as for a wrong password.
_DUMMY_HASH = hash_password("not a password", salt=b"cs-signals-dummy")


def check_credentials(users: dict[str, User], name: str, password: str) -> User | None:
    user = users.get(name)
    if user is None or not user.password_hash:
        verify_password(password, _DUMMY_HASH)
        return None
    return user if verify_password(password, user.password_hash) else None


def parse_users(data: Any, where: str, need_passwords: bool) -> dict[str, User]:
    """Users from the parsed file; UsersFileError names the user and field of every problem."""
    if not isinstance(data, dict) or not isinstance(data.get("users"), dict):
        raise UsersFileError(f"{where}: expected a mapping with `users:` (name -> settings)")
    problems: list[str] = []
    users: dict[str, User] = {}
    for name, entry in data["users"].items():
        at = f"{where}: users.{name}"
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}: a user name must be a non-empty string")
            continue
        if not isinstance(entry, dict):
            problems.append(f"{at}: expected a mapping with role, csm_id, password")
            continue
        unknown = set(entry) - {"role", "csm_id", "name", "password"}
        if unknown:
            problems.append(f"{at}: unknown field(s) {', '.join(sorted(map(str, unknown)))}")
        role = entry.get("role")
        if role not in ROLES:
            problems.append(f"{at}.role={role!r}: must be 'csm' or 'lead'")
        password = entry.get("password")
        if password is not None:
            try:
                _parse_hash(str(password))
            except ValueError as exc:
                problems.append(f"{at}.password: {exc}")
        elif need_passwords:
            problems.append(
                f"{at}.password is required (make one: cs-signals board --hash-password)"
            )
        users[name] = User(
            name=name,
            role=str(role),
            csm_id=str(entry.get("csm_id") or name),
            display=str(entry.get("name") or name),
            password_hash=None if password is None else str(password),
        )
    if problems:
        raise UsersFileError("\n".join(problems))
    if not users:
        raise UsersFileError(f"{where}: no users")
    return users


def load_users(path: Path, need_passwords: bool = True) -> dict[str, User]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsersFileError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise UsersFileError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}"
                             f" ({exc})") from exc
    return parse_users(data, str(path), need_passwords)


class UserDirectory:
    """The users file, re-read when it changes (checked at most every `every` seconds). A
    file that became invalid keeps the last good users and is logged."""

    def __init__(self, path: Path, need_passwords: bool, log: Any, every: float = 2.0) -> None:
        self.path = path
        self.need_passwords = need_passwords
        self.log = log
        self.every = every
        self.users = load_users(path, need_passwords)
        self._mtime = self._stat()
        self._checked = time.monotonic()

    def _stat(self) -> float:
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def current(self) -> dict[str, User]:
        now = time.monotonic()
        if now - self._checked >= self.every:
            self._checked = now
            mtime = self._stat()
            if mtime != self._mtime:
                self._mtime = mtime
                try:
                    self.users = load_users(self.path, self.need_passwords)
                    self.log.info("users_reloaded", users=len(self.users))
                except UsersFileError as exc:
                    self.log.error("users_file_invalid", error=str(exc))
        return self.users


class LoginLimiter:
    """At most `limit` failed sign-ins per user name and per client address in `window`
    seconds; beyond that, sign-in is refused until the window has passed."""

    def __init__(self, limit: int = 10, window: float = 300.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.setdefault(key, deque())
        while stamps and now - stamps[0] > self.window:
            stamps.popleft()
        return stamps

    def blocked(self, name: str, address: str) -> bool:
        now = time.monotonic()
        return any(
            len(self._recent(key, now)) >= self.limit for key in (f"u:{name}", f"a:{address}")
        )

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        for key in (f"u:{name}", f"a:{address}"):
            self._recent(key, now).append(now)
        if len(self._failures) > 10_000:  # forget idle keys
            for key in [k for k, v in self._failures.items() if not v]:
                del self._failures[key]
