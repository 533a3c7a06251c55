"""Account state <-> table bytes.

State holds day buckets of user ids and the recent event ids, which repeat a lot: zlib at
level 1 shrinks it several times for little CPU, and keeps changelog messages far from
Kafka's 1 MB default message limit even for large accounts.
"""

from __future__ import annotations

import json
import zlib

from workers.core.state import AccountState

_MAGIC = b"z1"


def encode_state(state: AccountState) -> bytes:
    body = json.dumps(state.to_dict(), separators=(",", ":")).encode("utf-8")
    return _MAGIC + zlib.compress(body, 1)


def decode_state(raw: bytes) -> AccountState:
    body = zlib.decompress(raw[len(_MAGIC) :]) if raw.startswith(_MAGIC) else raw
    return AccountState.from_dict(json.loads(body))
