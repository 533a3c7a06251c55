"""The versioned account-state codec: version 2 round trips, version 1 (the first release's
stored format, committed fixtures) migrates with the same metrics, unknown versions fail
clearly, unknown fields are ignored and missing optional ones defaulted."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pytest

from workers.core.codec import MAGIC, decode_state, encode_state, state_to_dict
from workers.core.metrics import compute_metrics
from workers.core.state import DAY
from workers.core.testing import Sim, at, default_rules
from workers.core.users import UserRecord, decode_user, encode_user

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "state_v1"
ACCOUNTS = sorted(p.stem for p in FIXTURES.glob("*.bin"))


def test_the_version_1_fixtures_are_there() -> None:
    assert ACCOUNTS == ["acc-001", "acc-044", "acc-068"]


def _same_metrics(metrics: dict, expected: dict) -> bool:
    """The metrics the first release computed, and no data for the metrics added since (the
    engagement ones: a version-1 state has no activity, milestone or first-use data)."""
    old = expected["metrics"]
    assert {k: metrics[k] for k in old} == old
    assert all(metrics[k] is None for k in set(metrics) - set(old))
    return True


@pytest.mark.parametrize("account", ACCOUNTS)
def test_version_1_state_migrates_with_the_same_metrics(account: str) -> None:
    raw = (FIXTURES / f"{account}.bin").read_bytes()
    expected = json.loads((FIXTURES / f"{account}.expected.json").read_text())
    assert raw.startswith(b"z2")
    decoded = decode_state(raw)
    state = decoded.state
    assert state.account_id == expected["account_id"]
    assert [[t, e.decode("utf-8")] for t, e in decoded.held] == expected["held"]
    assert sorted(p for p, task in state.tasks.items() if task.open) == expected["open_tasks"]
    rules = default_rules().for_segment(state.segment)
    assert _same_metrics(compute_metrics(state, expected["evaluated_at"], rules), expected)
    # The user records it implied are returned for the shell's store, and already in the
    # state's own in-memory store.
    assert decoded.users and dict(state.users) == decoded.users
    # Re-encoded as version 2: the same metrics, and no per-user data in the account value.
    again = decode_state(encode_state(state, decoded.held))
    again.state.users = state.users
    assert again.held == decoded.held
    assert _same_metrics(compute_metrics(again.state, expected["evaluated_at"], rules), expected)
    body = json.loads(zlib.decompress(encode_state(state)[3:]))
    assert not {"days", "ula", "usr"} & set(body)
    assert set(body["us"]) == {"n", "la", "cl", "vol", "ft"}


@pytest.mark.parametrize("account", ACCOUNTS)
def test_a_migrated_state_keeps_counting_users_exactly(account: str) -> None:
    """The old day buckets, rebuilt as records, histogram and snapshots, keep giving the
    counts the buckets would give as days go by."""
    raw = (FIXTURES / f"{account}.bin").read_bytes()
    v1 = json.loads(zlib.decompress(raw[2:]))["state"]
    buckets = {int(d): set(b[0]) for d, b in v1["days"].items()}
    state = decode_state(raw).state
    rules = default_rules().for_segment(state.segment)
    newest = max(buckets)
    for today in range(newest, newest + 40):
        m = compute_metrics(state, today * DAY + 60, rules)
        for name, first, last in [
            ("active_users_7d", today - 7, today - 1),
            ("active_users_prev_7d", today - 14, today - 8),
        ]:
            users = set().union(*(buckets.get(d, set()) for d in range(first, last + 1)))
            assert m[name] == len(users), (name, today - newest)


def _sim_state() -> Sim:
    sim = Sim()
    sim.account(
        at(0),
        segment="enterprise",
        licensed_seats=10,
        champion_user_id="user-0",
        csm_id="c",
        renewal_date="2026-05-01",
        contract_start="2025-01-01",
    )
    sim.daily_usage(0, 12, 6, features=("dashboards", "reports"))
    sim.ticket(at(12, 1), "T1", "escalated", "urgent")
    sim.ticket(at(12, 2), "T2", "closed", "low")
    sim.nps(at(12, 2), 3)
    sim.advance(at(13))
    return sim


def test_version_2_round_trips_exactly() -> None:
    sim = _sim_state()
    raw = encode_state(sim.state, [("usage-events", b'{"event_id":"x"}')])
    assert raw[:3] == MAGIC + bytes([2])
    decoded = decode_state(raw)
    assert decoded.users == {} and not decoded.state.users  # users live in their store
    assert decoded.held == [("usage-events", b'{"event_id":"x"}')]
    assert state_to_dict(decoded.state) == state_to_dict(sim.state)
    assert decoded.state.seen.usage == sim.state.seen.usage  # digests, in arrival order
    assert encode_state(decoded.state) == encode_state(sim.state)


def test_facts_with_any_json_string_round_trip() -> None:
    # Written by orjson; what it refuses (a lone surrogate) by the stdlib, ASCII-escaped.
    for name in ("Zürich Ölwerke 東京", "lone \ud800 surrogate"):
        sim = _sim_state()
        sim.state.facts["name"] = name
        decoded = decode_state(encode_state(sim.state)).state
        assert decoded.facts["name"] == name
        assert state_to_dict(decoded) == state_to_dict(sim.state)


def test_values_written_by_the_stdlib_encoder_decode_the_same() -> None:
    # Every stored value before orjson: json.dumps with ASCII escapes.
    sim = _sim_state()
    sim.state.facts["name"] = "Zürich"
    text = json.dumps(state_to_dict(sim.state), separators=(",", ":"))
    old = MAGIC + bytes([2]) + zlib.compress(text.encode("utf-8"), 1)
    decoded = decode_state(old).state
    assert state_to_dict(decoded) == state_to_dict(sim.state)
    assert encode_state(decoded) == encode_state(sim.state)


def test_an_unknown_version_is_refused_by_number() -> None:
    body = zlib.compress(b"{}")
    with pytest.raises(ValueError, match="version 3 is not supported"):
        decode_state(MAGIC + bytes([3]) + body)
    with pytest.raises(ValueError, match="unknown account state encoding"):
        decode_state(b"xx" + body)


def _rewrite(raw: bytes, change) -> bytes:
    body = json.loads(zlib.decompress(raw[3:]))
    change(body)
    return raw[:3] + zlib.compress(json.dumps(body).encode())


def test_unknown_fields_are_ignored_and_missing_optional_ones_defaulted() -> None:
    sim = _sim_state()
    raw = encode_state(sim.state)

    def add_fields(body: dict) -> None:
        body["future_field"] = {"anything": [1, 2]}
        body["us"]["future"] = 1
        body["tasks"]["champion_silent"] = {"ep": 1, "open": True, "pr": "high", "new": 0}

    decoded = decode_state(_rewrite(raw, add_fields)).state
    assert decoded.tasks["champion_silent"].episode == 1
    assert decoded.tasks["champion_silent"].keys == []

    def drop_optional(body: dict) -> None:
        for key in ("us", "seen", "seeno", "usn", "nps", "tasks", "pd", "ctk", "rnm"):
            del body[key]

    minimal = decode_state(_rewrite(raw, drop_optional)).state
    assert minimal.account_id == sim.state.account_id
    assert minimal.tasks == {} and minimal.nps == [] and minimal.usage.newest is None


def test_user_records_encode_to_16_bytes() -> None:
    record = UserRecord(1_790_000_000.25, (1 << 63) | 0b1011)
    raw = encode_user(record)
    assert len(raw) == 16
    assert decode_user(raw) == record
