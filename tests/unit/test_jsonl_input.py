"""events/jsonl.py: JSON lines -> records to publish, bad lines with their numbers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from events.decode import DecodeError, decode_event
from events.jsonl import LineError, ProduceRecord, parse_jsonl_lines

WHEN = "2026-11-20T10:00:00Z"


def line(**fields: Any) -> str:
    return json.dumps(fields) + "\n"


USAGE = line(
    type="usage", event_id="u1", account_id="acct-1", occurred_at=WHEN, user_id="x", feature="f"
)
TICKET = line(
    type="ticket",
    event_id="t1",
    account_id="acct-2",
    occurred_at=WHEN,
    ticket_id="T",
    status="opened",
)
NPS = line(type="nps", event_id="n1", account_id="acct-3", occurred_at=WHEN, score=3)
ACCOUNT = line(type="account", event_id="a1", account_id="acct-4", occurred_at=WHEN, arr=5.0)


def test_each_type_goes_to_its_topic_keyed_by_account() -> None:
    records, errors = parse_jsonl_lines([USAGE, TICKET, NPS, ACCOUNT])
    assert errors == []
    assert [(r.topic, r.key, r.line_no) for r in records] == [
        ("usage-events", "acct-1", 1),
        ("ticket-events", "acct-2", 2),
        ("nps-events", "acct-3", 3),
        ("account-events", "acct-4", 4),
    ]


def test_activity_and_milestone_lines_go_to_their_topics() -> None:
    activity = line(
        type="activity",
        event_id="c1",
        account_id="acct-5",
        occurred_at=WHEN,
        activity_id="act-1",
        kind="call",
        direction="outbound",
        csm_id="csm-ana",
    )
    milestone = line(
        type="milestone",
        event_id="m1",
        account_id="acct-6",
        occurred_at=WHEN,
        plan_id="p",
        milestone_id="kickoff",
        title="Kickoff",
        phase="onboard",
        due_date="2026-12-01",
        status="planned",
    )
    bad = line(type="activity", event_id="c2", account_id="acct-5", occurred_at=WHEN)
    records, errors = parse_jsonl_lines([activity, milestone, bad])
    assert [(r.topic, r.key) for r in records] == [
        ("activity-events", "acct-5"),
        ("milestone-events", "acct-6"),
    ]
    assert json.loads(records[0].value)["kind"] == "call"  # the contract's field, kept
    assert errors == [
        LineError(
            3,
            "field 'activity_id': required but missing; field 'kind': required but missing; "
            "field 'direction': required but missing; field 'csm_id': required but missing",
        )
    ]


def test_value_is_the_event_without_type_and_keeps_extras() -> None:
    text = line(
        type="usage",
        event_id="u1",
        account_id="acct-1",
        occurred_at=WHEN,
        user_id="x",
        feature="exporté",
        source="web",
    )
    (record,), _ = parse_jsonl_lines([text])
    value = json.loads(record.value)
    assert "type" not in value
    assert value["source"] == "web"
    assert value["feature"] == "exporté"
    # The bytes are exactly what the worker will accept.
    assert decode_event(record.topic, record.value).event_id == "u1"


def test_mixed_valid_and_invalid_lines_keep_every_valid_one() -> None:
    lines = [
        "# header comment\n",
        USAGE,
        "\n",
        "{not json\n",
        NPS.replace('"score": 3', '"score": 11'),
        TICKET,
        "[1, 2]\n",
        line(event_id="e", account_id="a", occurred_at=WHEN),
        line(type="click", event_id="e", account_id="a", occurred_at=WHEN),
        USAGE.replace('"event_id": "u1", ', ""),
        line(
            type="usage",
            event_id="u2",
            account_id="a",
            occurred_at="2026-11-20T10:00:00",
            user_id="x",
            feature="f",
            quantity="3",
        ),
        "   ",
        ACCOUNT,
    ]
    records, errors = parse_jsonl_lines(lines)
    assert [r.line_no for r in records] == [2, 6, 13]
    assert errors == [
        LineError(
            4, "not valid JSON: Expecting property name enclosed in double quotes at column 2"
        ),
        LineError(5, "field 'score': must be between 0 and 10 (got 11)"),
        LineError(7, "must be a JSON object, got an array"),
        LineError(
            8,
            "field 'type': required but missing; it must be one of 'usage', 'ticket', 'nps', "
            "'account', 'feedback', 'activity', 'milestone'",
        ),
        LineError(
            9,
            "field 'type': must be one of 'usage', 'ticket', 'nps', 'account', 'feedback', "
            "'activity', 'milestone' (got \"click\")",
        ),
        LineError(
            10,
            "field 'event_id': required but missing; every event needs a unique event_id "
            "(the idempotency key)",
        ),
        LineError(
            11,
            "field 'occurred_at': timestamp has no time zone; send RFC 3339 with a zone such as "
            "2026-11-20T10:00:00Z; field 'quantity': must be an integer, not a string (got \"3\")",
        ),
    ]


def test_same_wording_as_the_worker_decoder() -> None:
    bad = {"event_id": "n", "account_id": "a", "occurred_at": WHEN, "score": -1, "comment": 4}
    _, (error,) = parse_jsonl_lines([json.dumps({"type": "nps", **bad})])
    with pytest.raises(DecodeError) as info:
        decode_event("nps-events", json.dumps(bad).encode())
    assert error.message == info.value.error
    assert "field 'score'" in error.message and "field 'comment'" in error.message


def test_type_must_be_a_string() -> None:
    _, (error,) = parse_jsonl_lines([line(type=["usage"], event_id="e")])
    assert error.message == (
        "field 'type': must be one of 'usage', 'ticket', 'nps', 'account', 'feedback', "
        "'activity', 'milestone' (got [\"usage\"])"
    )


def test_byte_order_mark_on_the_first_line_is_ignored() -> None:
    records, errors = parse_jsonl_lines(["\ufeff" + USAGE])
    assert errors == [] and len(records) == 1


def test_lines_over_the_size_limit_are_reported() -> None:
    big = line(
        type="usage",
        event_id="u",
        account_id="a",
        occurred_at=WHEN,
        user_id="x",
        feature="f",
        pad="x" * 500,
    )
    records, (error,) = parse_jsonl_lines([USAGE, big], max_bytes=400)
    assert len(records) == 1
    assert error.line_no == 2
    assert "over the 400-byte limit (CS_MAX_EVENT_BYTES)" in error.message


def test_unpaired_surrogate_is_a_line_error_not_a_crash() -> None:
    text = USAGE.replace('"user_id": "x"', '"user_id": "\\ud800"')
    records, (error,) = parse_jsonl_lines([text, NPS])
    assert len(records) == 1
    assert error.line_no == 1
    assert "surrogate" in error.message


def test_whitespace_around_account_id_does_not_change_the_key() -> None:
    (record,), _ = parse_jsonl_lines([USAGE.replace('"acct-1"', '"  acct-1 "')])
    assert record.key == "acct-1"
    assert decode_event(record.topic, record.value).account_id == record.key


def test_empty_input() -> None:
    assert parse_jsonl_lines([]) == ([], [])
    assert parse_jsonl_lines(["", "# only comments", "\n"]) == ([], [])


def test_records_are_frozen_values() -> None:
    (record,), _ = parse_jsonl_lines([NPS])
    assert record == ProduceRecord(topic="nps-events", key="acct-3", value=record.value, line_no=1)
    assert isinstance(record.value, bytes)
