"""Pure parsing for `cs-signals produce FILE.jsonl` (no Kafka here, so it is unit-testable).

Each line is one JSON object with a `type` of usage, ticket, nps, account, feedback, activity or
milestone (events.models.EVENT_TYPES) plus that event's fields. A valid line becomes a
ProduceRecord for its topic, keyed by account_id, whose value is the line without `type`
(unknown extra fields are kept: producers may rely on them downstream).
Every line is validated by `events.decode.decode_event` on exactly the bytes that would be
published, so `produce` rejects precisely what the workers would dead-letter, in the same words,
but with a line number and before anything reaches Kafka. Invalid lines never stop the valid
ones: nothing valid is dropped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from events.decode import DEFAULT_MAX_EVENT_BYTES, DecodeError, decode_event, json_kind
from events.models import EVENT_TYPES, AnyInbound

__all__ = ["LineError", "ProduceRecord", "parse_file_line", "parse_jsonl_line", "parse_jsonl_lines"]

_TYPES_WORDS = ", ".join(f"'{name}'" for name in EVENT_TYPES)


@dataclass(frozen=True, slots=True)
class ProduceRecord:
    topic: str  # un-prefixed inbound topic, e.g. "usage-events"; add CS_TOPIC_PREFIX to send
    key: str  # the event's account_id (the contract's partitioning key)
    value: bytes  # UTF-8 JSON of the event without its `type` field
    line_no: int
    # The validated event (what a worker would decode from `value`), for offline readers.
    event: AnyInbound | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class LineError:
    line_no: int
    message: str


def parse_jsonl_lines(
    lines: Iterable[str], *, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> tuple[list[ProduceRecord], list[LineError]]:
    """Parse JSON-lines text into records to publish and errors to report (1-based line
    numbers counting every line). Blank lines and lines starting with `#` are skipped."""
    records: list[ProduceRecord] = []
    errors: list[LineError] = []
    for line_no, line in enumerate(lines, start=1):
        result = parse_file_line(line, line_no, max_bytes=max_bytes)
        if isinstance(result, ProduceRecord):
            records.append(result)
        elif result is not None:
            errors.append(result)
    return records, errors


def parse_file_line(
    line: str, line_no: int, *, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> ProduceRecord | LineError | None:
    """One line of a file as it stands (1-based `line_no`): None for a blank line or a `#`
    comment, else `parse_jsonl_line` of it."""
    if line_no == 1:
        # Editors on Windows start UTF-8 files with a byte order mark.
        line = line.removeprefix("\ufeff")
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    return parse_jsonl_line(text, line_no, max_bytes=max_bytes)


def parse_jsonl_line(
    text: str, line_no: int, *, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> ProduceRecord | LineError:
    """One non-blank line -> a record, or the reason it cannot be published."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return LineError(line_no, f"not valid JSON: {exc.msg} at column {exc.colno}")
    except (ValueError, RecursionError) as exc:
        # json's own limits: integers over 4,300 digits, absurd nesting.
        return LineError(line_no, f"not valid JSON: {exc}")
    if not isinstance(obj, dict):
        return LineError(line_no, f"must be a JSON object, got {json_kind(obj)}")

    if "type" not in obj:
        return LineError(
            line_no, f"field 'type': required but missing; it must be one of {_TYPES_WORDS}"
        )
    event_type = obj.pop("type")
    topic = EVENT_TYPES.get(event_type) if isinstance(event_type, str) else None
    if topic is None:
        return LineError(
            line_no,
            f"field 'type': must be one of {_TYPES_WORDS} (got {json.dumps(event_type)[:60]})",
        )

    try:
        value = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        # json.loads accepts "\ud800" escapes that no UTF-8 consumer can represent.
        return LineError(
            line_no,
            "contains an unpaired surrogate escape (\\uD800-\\uDFFF) in a string; "
            "such text cannot be sent as UTF-8",
        )
    try:
        event = decode_event(topic, value, max_bytes)
    except DecodeError as exc:
        return LineError(line_no, exc.error)
    return ProduceRecord(
        topic=topic, key=event.account_id, value=value, line_no=line_no, event=event
    )
