"""events/decode.py: bytes -> model, or a DecodeError a producer can act on; dead letters."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.decode import DecodeError, decode_event, make_dead_letter
from events.models import AccountEvent, NpsEvent, TicketEvent, UsageEvent

USAGE: dict[str, Any] = {
    "event_id": "evt-1",
    "account_id": "acct-1",
    "occurred_at": "2026-11-20T10:00:00Z",
    "user_id": "user-1",
    "feature": "reports.export",
    "quantity": 3,
}
NPS: dict[str, Any] = {
    "event_id": "evt-2",
    "account_id": "acct-1",
    "occurred_at": "2026-11-20T10:00:00Z",
    "score": 9,
}


def raw(obj: Any) -> bytes:
    return json.dumps(obj).encode("utf-8")


_DROP = object()  # with_(USAGE, event_id=_DROP) leaves the field out


def with_(base: dict[str, Any], **changes: Any) -> bytes:
    data = {**base, **changes}
    return raw({k: v for k, v in data.items() if v is not _DROP})


def error_of(topic: str, payload: bytes | None, **kwargs: Any) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_event(topic, payload, **kwargs)
    return info.value


# ---- valid events ------------------------------------------------------------------------------


def test_decodes_each_inbound_topic_to_its_model() -> None:
    assert isinstance(decode_event("usage-events", raw(USAGE)), UsageEvent)
    assert isinstance(decode_event("nps-events", raw(NPS)), NpsEvent)
    ticket = {**NPS, "ticket_id": "T-1", "status": "opened"}
    del ticket["score"]
    decoded = decode_event("ticket-events", raw(ticket))
    assert isinstance(decoded, TicketEvent)
    assert decoded.priority == "normal"
    account = decode_event(
        "account-events",
        raw({**NPS, "segment": "smb", "renewal_date": "2027-03-01", "arr": 12000}),
    )
    assert isinstance(account, AccountEvent)
    assert account.present_facts() == {
        "segment": "smb",
        "renewal_date": date(2027, 3, 1),
        "arr": 12000.0,
    }


def test_usage_event_fields_and_default_quantity() -> None:
    event = decode_event("usage-events", with_(USAGE, quantity=_DROP))
    assert isinstance(event, UsageEvent)
    assert (event.event_id, event.account_id, event.user_id, event.feature) == (
        "evt-1",
        "acct-1",
        "user-1",
        "reports.export",
    )
    assert event.quantity == 1
    assert event.kind == "usage"


def test_unknown_extra_fields_are_accepted_and_ignored() -> None:
    # Including one named like our internal `kind` attribute: producers own their extras.
    payload = with_(USAGE, source="web", nested={"a": [1, 2]}, kind="click", type="usage")
    event = decode_event("usage-events", payload)
    assert event.kind == "usage"
    assert "source" not in event.model_dump()


def test_zone_is_normalised_to_utc() -> None:
    event = decode_event("usage-events", with_(USAGE, occurred_at="2026-11-20T10:00:00+05:30"))
    assert event.occurred_at == datetime(2026, 11, 20, 4, 30, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_byte_order_mark_is_ignored() -> None:
    assert decode_event("usage-events", b"\xef\xbb\xbf" + raw(USAGE)).event_id == "evt-1"


def test_non_ascii_text_survives() -> None:
    event = decode_event("usage-events", with_(USAGE, feature="rapports.exportés 📈"))
    assert event.feature == "rapports.exportés 📈"


# ---- bad payloads ------------------------------------------------------------------------------


def test_malformed_json_names_line_and_column() -> None:
    err = error_of("usage-events", b'{"event_id": "e",\n "account_id" "a"}')
    assert err.reason == "bad_json"
    assert err.error == "payload is not valid JSON: Expecting ':' delimiter at line 2 column 15"


def test_trailing_data_is_malformed_json() -> None:
    err = error_of("usage-events", raw(USAGE) + b"\n" + raw(USAGE))
    assert err.reason == "bad_json"
    assert "Extra data at line 2 column 1" in err.error


@pytest.mark.parametrize(
    ("payload", "kind"),
    [(b"[1, 2]", "an array"), (b'"hello"', "a string"), (b"42", "a number"), (b"null", "null")],
)
def test_json_that_is_not_an_object(payload: bytes, kind: str) -> None:
    err = error_of("usage-events", payload)
    assert err.reason == "not_object"
    assert err.error == f"payload must be a JSON object, got {kind}"


def test_none_and_empty_payloads() -> None:
    assert error_of("usage-events", None).reason == "empty"
    assert "null Kafka value" in error_of("usage-events", None).error
    assert error_of("usage-events", b"").error.startswith("payload is empty")
    assert error_of("usage-events", b" \n\t").reason == "empty"


def test_not_utf8_names_the_byte() -> None:
    err = error_of("usage-events", b'{"event_id": "caf\xe9"}')
    assert err.reason == "not_utf8"
    assert err.error == (
        "payload is not valid UTF-8 (byte 0xe9 at offset 17); send JSON encoded as UTF-8"
    )


def test_oversize_payload_is_rejected_before_parsing() -> None:
    err = error_of("usage-events", b"x" * 2_345_678)
    assert err.reason == "too_large"
    assert err.error == (
        "payload is 2,345,678 bytes, over the 1,048,576-byte limit (CS_MAX_EVENT_BYTES)"
    )
    small = error_of("usage-events", raw(USAGE), max_bytes=10)
    assert small.error.endswith("over the 10-byte limit (CS_MAX_EVENT_BYTES)")


def test_unpaired_surrogate_escape_is_rejected() -> None:
    # json.loads would accept it, but the text could never be re-encoded as UTF-8 downstream.
    err = error_of("usage-events", with_(USAGE, user_id="x").replace(b'"x"', b'"\\ud800"'))
    assert err.reason == "bad_json"
    assert "surrogate pair" in err.error


def test_pathological_json_gets_a_message_not_a_crash() -> None:
    assert error_of("usage-events", b"[" * 100_000).reason == "bad_json"
    huge_int = b'{"a": ' + b"9" * 5000 + b"}"
    assert error_of("usage-events", huge_int).reason == "bad_json"


def test_unknown_topic_is_a_decode_error() -> None:
    err = error_of("clicks", raw(USAGE))
    assert err.reason == "unknown_topic"
    assert "usage-events" in err.error


# ---- field problems ---------------------------------------------------------------------------


def test_missing_event_id_is_reported_clearly() -> None:
    err = error_of("usage-events", with_(USAGE, event_id=_DROP))
    assert err.reason == "invalid"
    assert err.error == (
        "field 'event_id': required but missing; every event needs a unique event_id "
        "(the idempotency key)"
    )


def test_blank_event_id_is_rejected() -> None:
    assert error_of("usage-events", with_(USAGE, event_id="   ")).error == (
        "field 'event_id': must not be empty"
    )


def test_quantity_as_string_is_rejected() -> None:
    err = error_of("usage-events", with_(USAGE, quantity="3"))
    assert err.error == "field 'quantity': must be an integer, not a string (got \"3\")"


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (2.5, "must be a whole number written without a decimal point (got 2.5)"),
        (0, "must be between 1 and 1,000,000 (got 0)"),
        (True, "must be an integer (got true)"),
    ],
)
def test_quantity_must_be_a_positive_integer(quantity: Any, message: str) -> None:
    assert error_of("usage-events", with_(USAGE, quantity=quantity)).error == (
        f"field 'quantity': {message}"
    )


def test_timestamp_without_zone_is_rejected() -> None:
    err = error_of("usage-events", with_(USAGE, occurred_at="2026-11-20T10:00:00"))
    assert err.error == (
        "field 'occurred_at': timestamp has no time zone; send RFC 3339 with a zone such as "
        "2026-11-20T10:00:00Z"
    )


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("2026-11-20", 'timestamp has no time or zone (got "2026-11-20")'),
        ("yesterday", 'must be an RFC 3339 timestamp (got "yesterday")'),
        (1_700_000_000, "not a number (got 1700000000)"),
        ("1999-12-31T23:00:00Z", "before 2000-01-01"),
    ],
)
def test_other_bad_timestamps(value: Any, fragment: str) -> None:
    err = error_of("usage-events", with_(USAGE, occurred_at=value))
    assert err.error.startswith("field 'occurred_at': ")
    assert fragment in err.error


@pytest.mark.parametrize("score", [11, -1])
def test_nps_score_out_of_range(score: int) -> None:
    err = error_of("nps-events", with_(NPS, score=score))
    assert err.error == f"field 'score': must be between 0 and 10 (got {score})"


def test_several_problems_form_one_sentence() -> None:
    err = error_of("nps-events", with_(NPS, occurred_at="2026-11-20T10:00:00", score=11))
    assert err.error == (
        "field 'occurred_at': timestamp has no time zone; send RFC 3339 with a zone such as "
        "2026-11-20T10:00:00Z; field 'score': must be between 0 and 10 (got 11)"
    )


def test_enums_list_the_valid_values() -> None:
    ticket = {**NPS, "ticket_id": "T-1", "status": "reopened", "priority": None}
    err = error_of("ticket-events", raw(ticket))
    assert "field 'status': must be one of 'opened', 'updated', 'escalated', 'resolved' or " in (
        err.error
    )
    assert "'closed' (got \"reopened\")" in err.error
    assert "field 'priority': must be one of 'low', 'normal', 'high' or 'urgent' (got null)" in (
        err.error
    )


def test_account_event_field_problems() -> None:
    payload = raw(
        {
            **NPS,
            "segment": "huge",
            "licensed_seats": -5,
            "arr": float("nan"),
            "renewal_date": "2026-13-01",
            "name": "x" * 600,
        }
    )
    err = error_of("account-events", payload)
    assert "field 'segment': must be one of 'enterprise', 'mid_market' or 'smb'" in err.error
    assert "field 'licensed_seats': must be between 0 and 10,000,000 (got -5)" in err.error
    assert "field 'arr': must be between 0 and 1,000,000,000,000 (got NaN)" in err.error
    assert "field 'renewal_date': must be a date such as 2026-11-20" in err.error
    assert "field 'name': must be at most 500 characters (got 600)" in err.error


def test_offending_values_are_quoted_short() -> None:
    err = error_of("usage-events", with_(USAGE, quantity="9" * 500))
    assert len(err.error) < 200
    assert "…" in err.error


@settings(max_examples=300, deadline=None, database=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise_anything_but_decode_error(payload: bytes) -> None:
    try:
        decode_event("usage-events", payload)
    except DecodeError as exc:
        assert exc.error


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.dictionaries(st.sampled_from([*USAGE, "x"]), _json_values, max_size=8))
def test_arbitrary_objects_decode_or_explain_themselves(obj: dict[str, Any]) -> None:
    try:
        event = decode_event("usage-events", json.dumps(obj).encode())
    except DecodeError as exc:
        assert exc.error.startswith(("field '", "payload is not valid JSON"))
    else:
        assert event.occurred_at.tzinfo is UTC


# ---- dead letters -----------------------------------------------------------------------------

RECEIVED = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_dead_letter_keeps_text_payload_and_position() -> None:
    payload = b'{"event_id": "e", "score": 11}'
    letter = make_dead_letter("nps-events", 3, 42, payload, "field 'score': ...", RECEIVED)
    assert letter.source_topic == "nps-events"
    assert (letter.partition, letter.offset) == (3, 42)
    assert letter.payload == payload.decode()
    assert letter.payload_encoding == "utf-8"
    assert letter.payload_size == len(payload)
    assert letter.payload_truncated is False
    assert letter.received_at == RECEIVED
    # It serialises to the contract's JSON.
    out = json.loads(letter.to_json_bytes())
    assert out["error"] == "field 'score': ..."
    assert out["received_at"] == "2026-11-20T12:00:00Z"


def test_dead_letter_non_utf8_payload_is_base64() -> None:
    payload = b'{"name": "caf\xe9"}'
    letter = make_dead_letter("account-events", 0, 1, payload, "bad", RECEIVED)
    assert letter.payload_encoding == "base64"
    assert base64.b64decode(letter.payload) == payload
    assert letter.payload_truncated is False


def test_dead_letter_of_oversize_payload_keeps_size_and_truncated_head() -> None:
    payload = b'{"pad": "' + b"x" * 2_345_678 + b'"}'
    err = error_of("usage-events", payload)
    letter = make_dead_letter("usage-events", 1, 7, payload, err.error, RECEIVED)
    assert letter.payload_size == len(payload)
    assert letter.payload_truncated is True
    assert len(letter.payload) == 4096
    assert payload.decode().startswith(letter.payload)
    assert len(letter.to_json_bytes()) < 5000


def test_dead_letter_truncated_base64_head_decodes_to_the_first_bytes() -> None:
    payload = b"\xff" + bytes(range(256)) * 100
    letter = make_dead_letter("usage-events", 0, 0, payload, "bad", RECEIVED, max_payload_chars=100)
    assert letter.payload_encoding == "base64"
    assert letter.payload_truncated is True
    assert len(letter.payload) <= 100
    head = base64.b64decode(letter.payload)
    assert payload.startswith(head) and len(head) == 75


def test_dead_letter_of_missing_payload_and_naive_or_zoned_clock() -> None:
    letter = make_dead_letter("usage-events", None, None, None, "missing", datetime(2026, 1, 1))
    assert (letter.payload, letter.payload_size, letter.partition) == ("", 0, None)
    assert letter.received_at == datetime(2026, 1, 1, tzinfo=UTC)
    zoned = datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    letter = make_dead_letter("usage-events", 0, 0, b"x", "bad", zoned)
    assert letter.received_at.utcoffset() == timedelta(0)
    assert letter.received_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_timestamp_far_in_the_future_is_rejected() -> None:
    import json as _json
    from datetime import UTC, datetime, timedelta

    import pytest as _pytest

    from events.decode import DecodeError, decode_event

    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    raw = _json.dumps(
        {"event_id": "f1", "account_id": "a", "occurred_at": future, "score": 5}
    ).encode()
    with _pytest.raises(DecodeError) as info:
        decode_event("nps-events", raw)
    assert "future" in info.value.error and "occurred_at" in info.value.error


# ---- engagement inputs (activity-events, milestone-events) -------------------------------------

ACTIVITY: dict[str, Any] = {
    "event_id": "evt-3",
    "account_id": "acct-1",
    "occurred_at": "2026-11-20T10:00:00Z",
    "activity_id": "act-1",
    "kind": "email",
    "direction": "outbound",
    "csm_id": "csm-ana",
}
MILESTONE: dict[str, Any] = {
    "event_id": "evt-4",
    "account_id": "acct-1",
    "occurred_at": "2026-11-20T10:00:00Z",
    "plan_id": "plan-1",
    "milestone_id": "sso",
    "title": "SSO configured",
    "phase": "onboard",
    "due_date": "2026-12-01",
    "status": "in_progress",
}


def test_activity_and_milestone_events_decode() -> None:
    from events.models import ActivityEvent, MilestoneEvent

    activity = decode_event(
        "activity-events", with_(ACTIVITY, direction="inbound", in_reply_to="act-0", extra=1)
    )
    assert isinstance(activity, ActivityEvent)
    assert (activity.activity_kind, activity.direction, activity.in_reply_to) == (
        "email",
        "inbound",
        "act-0",
    )
    assert not activity.is_booking
    booked = decode_event(
        "activity-events", with_(ACTIVITY, kind="qbr", scheduled_for="2027-01-15T15:00:00+01:00")
    )
    assert booked.is_booking  # type: ignore[union-attr]
    assert booked.scheduled_for == datetime(2027, 1, 15, 14, tzinfo=UTC)  # type: ignore[union-attr]
    milestone = decode_event("milestone-events", raw(MILESTONE))
    assert isinstance(milestone, MilestoneEvent)
    assert milestone.due_date == date(2026, 12, 1) and milestone.owner is None


def test_activity_problems_are_explained() -> None:
    err = error_of("activity-events", with_(ACTIVITY, kind="fax", direction="out", csm_id=_DROP))
    assert err.error == (
        "field 'kind': must be one of 'email', 'call', 'meeting', 'qbr' or 'note' (got \"fax\"); "
        "field 'direction': must be one of 'outbound' or 'inbound' (got \"out\"); "
        "field 'csm_id': required but missing"
    )
    # The contract's field is `kind`: the model's own name for it is not an alias producers use.
    err = error_of("activity-events", with_(ACTIVITY, kind=_DROP, activity_kind="email"))
    assert err.error == "field 'kind': required but missing"
    err = error_of("activity-events", with_(ACTIVITY, scheduled_for="2027-01-15 15:00"))
    assert "field 'scheduled_for': timestamp has no time zone" in err.error
    err = error_of("activity-events", with_(ACTIVITY, scheduled_for="2999-01-01T00:00:00Z"))
    assert "more than 400 days in the future" in err.error


def test_milestone_problems_are_explained() -> None:
    err = error_of("milestone-events", with_(MILESTONE, status="late", due_date=20261201, title=""))
    assert err.error == (
        "field 'title': must not be empty; "
        "field 'due_date': date must be a string such as 2026-11-20, not a number (got 20261201); "
        "field 'status': must be one of 'planned', 'in_progress', 'done' or 'blocked' "
        '(got "late")'
    )
    err = error_of("milestone-events", with_(MILESTONE, plan_id=_DROP, due_date="next week"))
    assert "field 'plan_id': required but missing" in err.error
    assert "field 'due_date': must be a date such as 2026-11-20" in err.error
