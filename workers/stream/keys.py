"""The key layout of the state store and its changelog.

One key space per partition, shared by the local RocksDB store and the changelog topic:

    \\x02 a <account>                     the account's core state (small, bounded)
    \\x02 u <account> \\x00 <user>          one user's record (last active time + day mask)
    \\x02 h <account> \\x00 <sort key>      an event held for the event-time clock
    \\x02 s <account>                     when the account is next due for evaluation
    \\x02 m <name>                        partition metadata (the event clock, the book baseline)
    \\x02 c                               commit marker: closes one batch's writes

Account ids are validated non-empty text without NUL, so NUL separates the parts. The leading
\\x02 tells these keys from the first release's (a bare account id holding one big value),
which recovery migrates (see workers/stream/changelog.py).
"""

from __future__ import annotations

V2 = b"\x02"
ACCOUNT = V2 + b"a"
USER = V2 + b"u"
HELD = V2 + b"h"
SCHEDULE = V2 + b"s"
VIEW = V2 + b"v"
META = V2 + b"m"
COMMIT = V2 + b"c"

CLOCK = META + b"clock"
BOOK = META + b"book"  # the partition's book baseline (workers/core/book.py)
SEP = b"\x00"


def account_key(account_id: str) -> bytes:
    return ACCOUNT + account_id.encode()


def user_key(account_id: str, user_id: str) -> bytes:
    return USER + account_id.encode() + SEP + user_id.encode()


def user_prefix(account_id: str) -> bytes:
    return USER + account_id.encode() + SEP


def held_key(account_id: str) -> bytes:
    return HELD + account_id.encode()


def schedule_key(account_id: str) -> bytes:
    return SCHEDULE + account_id.encode()


def view_key(account_id: str) -> bytes:
    return VIEW + account_id.encode()


def account_of(key: bytes) -> str:
    """The account a data key belongs to (account, user, held and schedule keys)."""
    body = key[2:]
    end = body.find(SEP)
    return (body if end < 0 else body[:end]).decode()


def is_v2(key: bytes | None) -> bool:
    return key is not None and key.startswith(V2)
