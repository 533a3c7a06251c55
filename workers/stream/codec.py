"""Account state (and its held events) <-> table bytes.

State holds day buckets of user ids and the recent event ids, which repeat a lot: zlib at
level 1 shrinks it several times for little CPU, and keeps changelog messages far from
Kafka's 1 MB default message limit even for large accounts.
"""

from __future__ import annotations

import json
import zlib

from workers.core.state import AccountState
from workers.stream.holding import HeldEvent

_MAGIC = b"z2"


def encode_account(state: AccountState, held: list[HeldEvent]) -> bytes:
    body = {
        "state": state.to_dict(),
        # held events are validated UTF-8 JSON: kept as text, re-decoded on load
        "held": [[event.topic, event.raw.decode("utf-8")] for event in held],
    }
    return _MAGIC + zlib.compress(json.dumps(body, separators=(",", ":")).encode("utf-8"), 1)


def decode_account(raw: bytes) -> tuple[AccountState, list[tuple[str, bytes]]]:
    if not raw.startswith(_MAGIC):
        raise ValueError("unknown account state encoding")
    body = json.loads(zlib.decompress(raw[len(_MAGIC) :]))
    held = [(topic, text.encode("utf-8")) for topic, text in body["held"]]
    return AccountState.from_dict(body["state"]), held
