"""Secrets: read from `<VARIABLE>_FILE` (container secrets), masked wherever they are shown.

Every secret the settings read is also registered here, and the log set-up
(workers/logs.py) replaces any registered value with `***` in every line it writes, the
framework's (faust, aiokafka, kafka-python) included: a secret that slips into an error
message or a repr still never reaches a log.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

__all__ = [
    "MASK",
    "mask_url",
    "read_secret_files",
    "redact",
    "register",
    "registered",
    "url_password",
]

MASK = "***"
# Shorter values would mask ordinary words in log lines; no real secret is this short.
_MIN_LENGTH = 4

_lock = threading.Lock()
_registered: set[str] = set()


def read_secret_files(source: MutableMapping[str, str], names: Iterable[str]) -> list[str]:
    """For each NAME in `names` with NAME_FILE set in `source`, put the file's contents (without
    the trailing newline) in source[NAME]. Returns one problem per bad NAME_FILE, each naming
    the variable: both NAME and NAME_FILE set, file unreadable, file empty."""
    problems: list[str] = []
    for name in names:
        path = (source.get(f"{name}_FILE") or "").strip()
        if not path:
            continue
        if (source.get(name) or "").strip():
            problems.append(f"{name} and {name}_FILE are both set: set only one")
            continue
        try:
            value = Path(path).expanduser().read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{name}_FILE={path!r}: cannot read ({exc.strerror or exc})")
            continue
        except UnicodeDecodeError:
            problems.append(f"{name}_FILE={path!r}: not UTF-8 text")
            continue
        if not value:
            problems.append(f"{name}_FILE={path!r}: the file is empty")
            continue
        source[name] = value
    return problems


def mask_url(url: str) -> str:
    """`url` with its password (if any) replaced by ***: rediss://user:***@host:6380/0."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    user = quote(unquote(parts.username or ""), safe="")
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def url_password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def register(*values: str | None) -> None:
    """Remember secret values, so redact() hides them (both as given and URL-encoded)."""
    with _lock:
        for value in values:
            if value and len(value) >= _MIN_LENGTH:
                _registered.add(value)
                encoded = quote(value, safe="")
                if encoded != value:
                    _registered.add(encoded)


def registered() -> frozenset[str]:
    with _lock:
        return frozenset(_registered)


def redact(text: str) -> str:
    """`text` with every registered secret replaced by ***."""
    secrets = registered()
    if not secrets or not text:
        return text
    # Longest first: a secret containing another is masked whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text
