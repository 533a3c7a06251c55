"""Account state <-> bytes, versioned. Pure: no store, no Kafka.

Version 2 (written): b"cs" + version byte 2 + zlib(JSON) of the compact dict `state_to_dict`
builds (short keys; day-keyed maps as [day, ...] lists; event-id digests as base64 runs).
User records are not in it: they live in the account's `UserStore`, one key per user.
Decoding ignores fields it does not know (written by a later minor change) and gives missing
optional ones their defaults, so a field can be added without a new version.

Version 1 (read only): b"z2" + zlib(JSON) of {"state": <v1 dict>, "held": [[topic, text]]}, as
the first release's shell stored it, with day buckets of user ids. Decoding migrates it
(migrate_v1.py): the user records it implies are returned beside the state, for the caller to
write to its store, and the held events it carried are returned too.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .dedup import SeenIds
from .engagement_state import Engagement
from .state import AccountState, TaskState, Ticket
from .usage import UsageAggregates
from .users import DictUserStore, UserRecord

MAGIC = b"cs"
VERSION = 2
V1_MAGIC = b"z2"
_ZLIB_LEVEL = 1  # the value is re-encoded on every write: cheap beats small here


@dataclass
class DecodedState:
    state: AccountState
    # User records carried by the decoded value (only a migrated version 1 has any); the
    # state's own in-memory store already holds them.
    users: dict[str, UserRecord] = field(default_factory=dict)
    held: list[tuple[str, bytes]] = field(default_factory=list)  # (topic, raw event)


def encode_state(state: AccountState, held: Sequence[tuple[str, bytes]] = ()) -> bytes:
    """The account value. `held` (topic, raw UTF-8 JSON event) is kept beside the state for a
    shell that stores its held events in the account value."""
    body = state_to_dict(state)
    if held:
        body["held"] = [[topic, raw.decode("utf-8")] for topic, raw in held]
    return MAGIC + bytes([VERSION]) + zlib.compress(_dumps(body), _ZLIB_LEVEL)


def _dumps(body: dict[str, Any]) -> bytes:
    """Compact JSON, by orjson (several times faster than the stdlib's, and the value is
    re-encoded on every write). What orjson refuses -- a lone surrogate in a fact (any JSON
    string is a valid fact), a non-string key, an integer over 64 bits -- goes through the
    stdlib with ASCII escapes, as every value did before. Either output decodes the same."""
    try:
        return orjson.dumps(body)
    except TypeError:
        return json.dumps(body, separators=(",", ":")).encode("ascii")


def _loads(text: bytes) -> Any:
    """orjson, or the stdlib for what orjson refuses (escaped lone surrogates, NaN written
    by the stdlib): the same values either way."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def decode_state(raw: bytes) -> DecodedState:
    if raw.startswith(MAGIC) and len(raw) > len(MAGIC):
        version = raw[len(MAGIC)]
        if version != VERSION:
            raise ValueError(
                f"account state version {version} is not supported: this build reads "
                f"versions 1 and {VERSION}"
            )
        body = _loads(zlib.decompress(raw[len(MAGIC) + 1 :]))
        held = _held(body.get("held", ()))
        return DecodedState(state_from_dict(body), {}, held)
    if raw.startswith(V1_MAGIC):
        from .migrate_v1 import migrate_v1

        body = json.loads(zlib.decompress(raw[len(V1_MAGIC) :]))
        state, users = migrate_v1(body["state"], state_from_dict)
        return DecodedState(state, users, _held(body.get("held", ())))
    raise ValueError(f"unknown account state encoding (starts with {raw[:3]!r})")


def _held(items: Iterable[Sequence[str]]) -> list[tuple[str, bytes]]:
    return [(topic, text.encode("utf-8")) for topic, text in items]


# --- the compact dict --------------------------------------------------------------------


def state_to_dict(state: AccountState, *, with_users: bool = False) -> dict[str, Any]:
    """`with_users` adds the records of an in-memory user store (only for the legacy
    `AccountState.to_dict`, whose caller has no store of its own)."""
    usage = state.usage
    d: dict[str, Any] = {
        "v": VERSION,
        "id": state.account_id,
        "facts": state.facts,
        "chs": state.champion_since,
        "chla": state.champion_last_active,
        "fs": state.first_seen,
        "clk": state.clock,
        "lb": state.last_boundary,
        "le": state.last_eval,
        "us": {
            "n": usage.newest,
            "la": sorted(usage.last_active.items()),
            "cl": [[day, *counts] for day, counts in sorted(usage.closed.items())],
            "vol": sorted(usage.volume.items()),
            "ft": [[name, *entry] for name, entry in usage.features.items()],
        },
        "usn": state.users_since,
        "tk": {
            k: [t.priority, t.status, t.opened_at, t.updated_at, t.escalated]
            for k, t in state.tickets.items()
        },
        "ctk": state.closed_tickets,
        "esc": state.escalations,
        "nps": state.nps,
        "seen": _runs(state.seen.usage),
        "seeno": _runs(state.seen.other),
        "h": state.health,
        "pub": state.published,
        "arf": state.at_risk_from,
        "ars": state.at_risk_since,
        "rnf": state.renewal_for,
        "rnm": state.renewal_milestones,
        "tasks": {k: _task_to_dict(t) for k, t in state.tasks.items()},
        "pd": state.pruned_day,
    }
    engagement = state.engagement.to_dict()
    if engagement:  # absent for accounts without engagement data: their bytes do not change
        d["eng"] = engagement
    if with_users and isinstance(state.users, DictUserStore):
        d["usr"] = {user: list(record) for user, record in state.users.items()}
    return d


def state_from_dict(d: dict[str, Any]) -> AccountState:
    """A version-2 dict, or a version-1 one (migrated, its users in the state's store)."""
    version = d.get("v", 1)
    if version == 1:
        from .migrate_v1 import migrate_v1

        return migrate_v1(d, state_from_dict)[0]
    if version != VERSION:
        raise ValueError(
            f"account state version {version} is not supported: this build reads "
            f"versions 1 and {VERSION}"
        )
    us = d.get("us") or {}
    usage = UsageAggregates(
        newest=us.get("n"),
        last_active={int(day): int(n) for day, n in us.get("la", ())},
        closed={int(c[0]): [int(c[1]), int(c[2])] for c in us.get("cl", ())},
        volume={int(day): int(q) for day, q in us.get("vol", ())},
        features={f[0]: [int(f[1]), int(f[2])] for f in us.get("ft", ())},
    )
    state = AccountState(
        account_id=d["id"],
        facts=dict(d.get("facts") or {}),
        champion_since=d.get("chs"),
        champion_last_active=d.get("chla"),
        first_seen=d.get("fs"),
        clock=d.get("clk"),
        last_boundary=d.get("lb"),
        last_eval=d.get("le"),
        usage=usage,
        users_since=d.get("usn"),
        tickets={
            k: Ticket(t[0], t[1], t[2], t[3], bool(t[4])) for k, t in (d.get("tk") or {}).items()
        },
        closed_tickets=dict(d.get("ctk") or {}),
        escalations=[list(x) for x in d.get("esc", ())],
        nps=[list(x) for x in d.get("nps", ())],
        seen=SeenIds(_unruns(d.get("seen", ())), _unruns(d.get("seeno", ()))),
        health=d.get("h"),
        published=d.get("pub"),
        at_risk_from=d.get("arf"),
        at_risk_since=d.get("ars"),
        renewal_for=d.get("rnf"),
        renewal_milestones=list(d.get("rnm", ())),
        tasks={k: _task_from_dict(t) for k, t in (d.get("tasks") or {}).items()},
        pruned_day=d.get("pd"),
        engagement=Engagement.from_dict(d.get("eng")),
    )
    if "usr" in d:
        state.users = DictUserStore(
            {user: UserRecord(float(r[0]), int(r[1])) for user, r in d["usr"].items()}
        )
    return state


def _task_to_dict(t: TaskState) -> dict[str, Any]:
    return {
        "ep": t.episode,
        "open": t.open,
        "pr": t.priority,
        "opr": t.opened_priority,
        "oat": t.opened_at,
        "due": t.due_at,
        "rat": t.resolved_at,
        "ev": t.evidence,
        "keys": t.keys,
        "esc": t.escalated,
        "ok": t.ok_since,
        "snz": t.snoozed_until,
        "ack": t.acknowledged_at,
        "cby": t.closed_by,
    }


def _task_from_dict(d: dict[str, Any]) -> TaskState:
    return TaskState(
        episode=d.get("ep", 0),
        open=d.get("open", False),
        priority=d.get("pr"),
        opened_priority=d.get("opr"),
        opened_at=d.get("oat"),
        due_at=d.get("due"),
        resolved_at=d.get("rat"),
        evidence=d.get("ev") or {},
        keys=list(d.get("keys", ())),
        escalated=d.get("esc", False),
        ok_since=d.get("ok"),
        snoozed_until=d.get("snz"),
        acknowledged_at=d.get("ack"),
        closed_by=d.get("cby"),
    )


def _runs(ring: dict[bytes, int]) -> list[list[Any]]:
    """Digests in arrival order as [hour, base64 of the concatenated digests] runs of equal
    hours: 8 bytes per id plus a few per run, and the order survives a round trip."""
    runs: list[list[Any]] = []
    hour: int | None = None
    chunk: list[bytes] = []
    for key, h in ring.items():
        if h != hour:
            if chunk:
                runs.append([hour, base64.b64encode(b"".join(chunk)).decode("ascii")])
            hour, chunk = h, []
        chunk.append(key)
    if chunk:
        runs.append([hour, base64.b64encode(b"".join(chunk)).decode("ascii")])
    return runs


def _unruns(runs: Iterable[Sequence[Any]]) -> dict[bytes, int]:
    ring: dict[bytes, int] = {}
    for hour, text in runs:
        blob = base64.b64decode(text)
        for i in range(0, len(blob), 8):
            ring[blob[i : i + 8]] = int(hour)
    return ring
