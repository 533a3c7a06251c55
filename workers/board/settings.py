"""The board's own settings (Kafka, Redis and prefixes come from config.settings.Settings).

Each one is a flag or an environment variable (the flag wins); every problem is collected and
reported at once, naming the flag or variable, and `cs-signals board` exits with code 2.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.settings import SettingsError
from workers.delivery.settings import Env

MIN_SECRET_CHARS = 32

# name -> (default, meaning), for --help and the README.
BOARD_SETTINGS_HELP: dict[str, tuple[str, str]] = {
    "CS_BOARD_HOST": ("127.0.0.1", "address to listen on (--host)"),
    "CS_BOARD_PORT": ("8080", "port to listen on (--port)"),
    "CS_BOARD_USERS": ("-", "users file: names, roles, CSM ids, password hashes (--users)"),
    "CS_BOARD_SECRET": (
        "-",
        f"session signing key, at least {MIN_SECRET_CHARS} characters (or CS_BOARD_SECRET_FILE)",
    ),
    "CS_BOARD_TRUSTED_HEADER": (
        "-",
        "take the signed-in user from this request header set by a reverse proxy "
        "(--trusted-header); no sign-in form then",
    ),
    "CS_BOARD_PUBLIC_ORIGIN": (
        "-",
        "the origin browsers use, e.g. https://board.example.com (--public-origin): checked "
        "against Origin on every POST; https makes cookies Secure",
    ),
    "CS_BOARD_CLOCK": (
        "wall",
        "'wall', or 'event' (the newest event time seen: replays and the demo) for due times "
        "and feedback timestamps (--clock)",
    ),
    "CS_BOARD_HISTORY": ("500", "health points kept per account (--history)"),
    "CS_BOARD_SESSION_HOURS": ("12", "how long a sign-in lasts"),
}


@dataclass(frozen=True)
class BoardSettings:
    host: str
    port: int
    users_file: Path
    secret: bytes = field(repr=False)
    trusted_header: str | None = None
    public_origin: str | None = None
    clock: str = "wall"
    history: int = 500
    session_hours: float = 12.0

    @property
    def secure_cookies(self) -> bool:
        return bool(self.public_origin and self.public_origin.startswith("https://"))


def load_board_settings(
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    env_file: str | Path | None = ".env",
) -> BoardSettings:
    """Flags (argparse values, None when not given) over the environment over `.env`.
    Raises SettingsError naming every bad flag or variable."""
    flags = dict(flags or {})
    env = Env(environ, env_file)

    def pick(flag: str, var: str) -> tuple[str | None, str]:
        value = flags.get(flag)
        if value is not None:
            return str(value), f"--{flag.replace('_', '-')}"
        return env.text(var), var

    host, _ = pick("host", "CS_BOARD_HOST")
    port = _port(*pick("port", "CS_BOARD_PORT"), env.problems)
    users_raw, users_name = pick("users", "CS_BOARD_USERS")
    users_file = Path(users_raw).expanduser() if users_raw else Path()
    if not users_raw:
        env.problems.append("--users FILE (or CS_BOARD_USERS) is required: the board's users")
    elif not users_file.is_file():
        env.problems.append(f"{users_name}={users_raw!r}: no such file")
    secret = env.secret("CS_BOARD_SECRET")
    if secret is not None and len(secret) < MIN_SECRET_CHARS:
        env.problems.append(
            f"CS_BOARD_SECRET: must be at least {MIN_SECRET_CHARS} characters (e.g. python3 -c "
            "'import secrets; print(secrets.token_urlsafe(32))')"
        )
    header, header_name = pick("trusted_header", "CS_BOARD_TRUSTED_HEADER")
    if header is not None and not _is_token(header):
        env.problems.append(f"{header_name}={header!r}: must be an HTTP header name")
    origin, origin_name = pick("public_origin", "CS_BOARD_PUBLIC_ORIGIN")
    if origin is not None:
        origin = origin.rstrip("/")
        scheme, _, rest = origin.partition("://")
        if scheme not in ("http", "https") or not rest or "/" in rest:
            env.problems.append(
                f"{origin_name}={origin!r}: must be scheme://host[:port], e.g. "
                "https://board.example.com"
            )
    clock, clock_name = pick("clock", "CS_BOARD_CLOCK")
    clock = (clock or "wall").lower()
    if clock not in ("wall", "event"):
        env.problems.append(f"{clock_name}={clock!r}: must be 'wall' or 'event'")
    history_raw, history_name = pick("history", "CS_BOARD_HISTORY")
    history = _integer(history_raw, history_name, 500, 2, 100_000, env.problems)
    hours = env.number("CS_BOARD_SESSION_HOURS", 12.0, 0.01)
    env.check()
    if secret is None:  # unreachable: env.check() raised
        raise SettingsError(["CS_BOARD_SECRET is required"])
    return BoardSettings(
        host=host or "127.0.0.1",
        port=port,
        users_file=users_file,
        secret=secret.encode("utf-8"),
        trusted_header=header,
        public_origin=origin,
        clock=clock,
        history=history,
        session_hours=hours,
    )


def _port(raw: str | None, name: str, problems: list[str]) -> int:
    return _integer(raw, name, 8080, 0, 65535, problems)


def _integer(
    raw: str | None, name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        problems.append(f"{name}={raw!r}: must be an integer from {low} to {high}")
        return default
    return value


def _is_token(name: str) -> bool:
    allowed = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return bool(name) and set(name) <= allowed


def settings_epilog() -> str:
    rows = [
        f"  {name:<26} {meaning} (default: {default})"
        for name, (default, meaning) in BOARD_SETTINGS_HELP.items()
    ]
    return "board settings (flags win over environment variables, or .env):\n" + "\n".join(rows)
