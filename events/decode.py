"""Bytes -> inbound model, or a dead letter that says what the producer must fix.

This is the only place the workers turn Kafka values into models, so every worker rejects the
same things with the same words. It is also the hot path: a valid event costs exactly one call
to pydantic's Rust JSON validator (`model_validate_json` on the raw bytes, about twice as fast as
`json.loads` + `model_validate`). Only a *failed* event pays for diagnosis (UTF-8 check,
`json.loads` for Python's precise JSON messages, field-by-field wording), so bad traffic costs
more than good traffic, never the other way round.
"""

from __future__ import annotations

import base64
import json
import math
from datetime import UTC, datetime
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import ValidationError

from events.models import INBOUND_TOPICS, AnyInbound, DeadLetter, InboundEvent

__all__ = [
    "DEFAULT_MAX_EVENT_BYTES",
    "DecodeError",
    "decode_event",
    "explain_validation_error",
    "json_kind",
    "make_dead_letter",
]

DEFAULT_MAX_EVENT_BYTES = 1_048_576

# RFC 8259 §8.1: parsers MAY ignore a byte order mark. Windows tools add one; accept it.
_BOM = b"\xef\xbb\xbf"

# A rejected event lists at most this many field problems: enough to fix a producer, short
# enough that one dead letter cannot carry an unbounded error.
_MAX_PROBLEMS = 10
# Offending values are quoted back to the producer, cut to this many characters.
_MAX_SHOWN = 60

_TIMESTAMP_HINT = "send RFC 3339 with a zone such as 2026-11-20T10:00:00Z"


class DecodeError(Exception):
    """An inbound value that cannot become an event.

    `error` is the producer-actionable message that goes into the dead letter. `reason` is a
    short stable code (`too_large`, `empty`, `not_utf8`, `bad_json`, `not_object`, `invalid`,
    `unknown_topic`) for metrics and tests, so nothing has to parse the wording.
    """

    def __init__(self, error: str, reason: str = "invalid") -> None:
        super().__init__(error)
        self.error = error
        self.reason = reason


def decode_event(
    topic: str, raw: bytes | None, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> AnyInbound:
    """Validate one Kafka value from the un-prefixed inbound `topic` into its event model.

    Raises `DecodeError` (and nothing else) for any value that is not a valid event.
    """
    model = INBOUND_TOPICS.get(topic)
    if model is None:
        raise DecodeError(
            f"no event schema for topic {topic!r}; inbound topics are " + ", ".join(INBOUND_TOPICS),
            "unknown_topic",
        )
    if raw is None:
        raise DecodeError(
            "payload is missing (a null Kafka value, such as a tombstone); "
            "send the event as a UTF-8 JSON object",
            "empty",
        )
    size = len(raw)
    if size > max_bytes:
        # Checked before parsing so an oversized value costs nothing but this comparison.
        raise DecodeError(
            f"payload is {size:,} bytes, over the {max_bytes:,}-byte limit (CS_MAX_EVENT_BYTES)",
            "too_large",
        )
    try:
        return model.model_validate_json(raw)  # type: ignore[return-value]
    except ValidationError as exc:
        failure = exc
    if raw.startswith(_BOM):
        return decode_event(topic, raw[len(_BOM) :], max_bytes)
    raise _diagnose(raw, failure, model)


def _diagnose(raw: bytes, exc: ValidationError, model: type[InboundEvent]) -> DecodeError:
    """Turn pydantic's failure into the most useful single message for the producer."""
    errors = exc.errors(include_url=False)
    if errors and errors[0]["type"] == "json_invalid":
        return _diagnose_bytes(raw, errors[0])
    if len(errors) == 1 and errors[0]["type"] == "model_type" and not errors[0]["loc"]:
        return DecodeError(
            f"payload must be a JSON object, got {json_kind(errors[0].get('input'))}",
            "not_object",
        )
    return DecodeError(explain_validation_error(exc, model), "invalid")


def _diagnose_bytes(raw: bytes, json_error: Any) -> DecodeError:
    if not raw.strip():
        return DecodeError(
            "payload is empty; send the event as a UTF-8 JSON object"
            if not raw
            else "payload is empty (only whitespace); send the event as a UTF-8 JSON object",
            "empty",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DecodeError(
            f"payload is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start:,}); "
            "send JSON encoded as UTF-8",
            "not_utf8",
        )
    # Python's json module names the problem the way most producers' tooling does
    # ("Expecting ',' delimiter"). It runs only for payloads already known to be bad.
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return DecodeError(
            f"payload is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            "bad_json",
        )
    except (ValueError, RecursionError):
        # json.loads has its own limits (4,300-digit integers, deep nesting); the Rust
        # parser's message below says the same thing with a position.
        pass
    # Here json.loads accepted what the Rust parser refused (an unpaired surrogate escape
    # such as "\ud800", which could not be re-encoded later) or hit a limit: use its words.
    detail = str((json_error.get("ctx") or {}).get("error") or json_error.get("msg", ""))
    if "escape" in detail:
        detail += " (a \\uD800-\\uDFFF escape must be part of a surrogate pair)"
    return DecodeError(f"payload is not valid JSON: {detail}", "bad_json")


def explain_validation_error(exc: ValidationError, model: type[InboundEvent] | None = None) -> str:
    """One sentence listing every field problem, e.g.

    "field 'occurred_at': timestamp has no time zone; send RFC 3339 with a zone such as
    2026-11-20T10:00:00Z; field 'score': must be between 0 and 10 (got 11)"
    """
    problems: list[str] = []
    for err in exc.errors(include_url=False):
        text = _describe(err, model)
        if text not in problems:
            problems.append(text)
    if len(problems) > _MAX_PROBLEMS:
        extra = len(problems) - _MAX_PROBLEMS
        problems = [*problems[:_MAX_PROBLEMS], f"and {extra} more problem{'s' * (extra > 1)}"]
    return "; ".join(problems)


def _describe(err: Any, model: type[InboundEvent] | None) -> str:
    loc = err.get("loc") or ()
    field = _field_path(loc)
    kind: str = err["type"]
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    got = f" (got {_show(value)})"
    prefix = f"field '{field}': " if field else ""

    if kind == "missing":
        if field == "event_id":
            return (
                "field 'event_id': required but missing; every event needs a unique "
                "event_id (the idempotency key)"
            )
        return f"{prefix}required but missing"
    if kind == "timezone_aware":
        if isinstance(value, str) and "T" not in value.upper() and " " not in value.strip():
            return f"{prefix}timestamp has no time or zone{got}; {_TIMESTAMP_HINT}"
        return f"{prefix}timestamp has no time zone; {_TIMESTAMP_HINT}"
    if kind.startswith("datetime_") or kind in ("timezone_offset", "timezone_naive"):
        return f"{prefix}must be an RFC 3339 timestamp{got}; {_TIMESTAMP_HINT}"
    if kind.startswith("date_"):
        return f"{prefix}must be a date such as 2026-11-20{got}"
    if kind in ("int_type", "int_parsing"):
        if isinstance(value, str):
            return f"{prefix}must be an integer, not a string{got}"
        if isinstance(value, float):
            return f"{prefix}must be a whole number written without a decimal point{got}"
        return f"{prefix}must be an integer{got}"
    if kind == "int_from_float":
        return f"{prefix}must be a whole number{got}"
    if kind in ("float_type", "float_parsing"):
        return f"{prefix}must be a number{got}"
    if kind == "finite_number":
        return f"{prefix}must be a finite number{got}"
    if kind == "string_type":
        return f"{prefix}must be a string{got}"
    if kind == "string_too_short":
        minimum = ctx.get("min_length", 1)
        if minimum == 1:
            return f"{prefix}must not be empty"
        return f"{prefix}must be at least {minimum:,} characters{got}"
    if kind == "string_too_long":
        length = f" (got {len(value):,})" if isinstance(value, str) else ""
        return f"{prefix}must be at most {ctx.get('max_length', 0):,} characters{length}"
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return f"{prefix}must be {_range_words(model, loc, ctx)}{got}"
    if kind == "literal_error":
        return f"{prefix}must be one of {ctx.get('expected', '?')}{got}"
    if kind == "value_error":
        # Our own validators (events/models.py) already speak to producers.
        return f"{prefix}{ctx.get('error', err.get('msg', ''))}{got}"
    if kind == "model_type" or kind == "dict_type":
        return f"{prefix}must be a JSON object, got {json_kind(value)}"
    # Anything else: pydantic's own sentence, reworded from "Input should be ..." form.
    msg = str(err.get("msg", kind))
    if msg.startswith("Input should"):
        msg = "must" + msg[len("Input should") :]
    elif msg:
        msg = msg[0].lower() + msg[1:]
    return f"{prefix}{msg}{got if 'input' in err else ''}"


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _range_words(
    model: type[InboundEvent] | None, loc: tuple[int | str, ...], ctx: dict[str, Any]
) -> str:
    # Pydantic reports only the bound that failed; a producer fixing "score 11" wants the
    # whole range, so read both bounds off the model's field.
    lower: tuple[str, float] | None = None
    upper: tuple[str, float] | None = None
    field = model.model_fields.get(str(loc[0])) if model is not None and loc else None
    if field is not None and len(loc) == 1:
        for item in field.metadata:
            if isinstance(item, Ge):
                lower = ("ge", item.ge)  # type: ignore[assignment]
            elif isinstance(item, Gt):
                lower = ("gt", item.gt)  # type: ignore[assignment]
            elif isinstance(item, Le):
                upper = ("le", item.le)  # type: ignore[assignment]
            elif isinstance(item, Lt):
                upper = ("lt", item.lt)  # type: ignore[assignment]
    for key in ("ge", "gt"):
        if lower is None and key in ctx:
            lower = (key, ctx[key])
    for key in ("le", "lt"):
        if upper is None and key in ctx:
            upper = (key, ctx[key])
    if lower and upper and lower[0] == "ge" and upper[0] == "le":
        return f"between {_num(lower[1])} and {_num(upper[1])}"
    words = []
    if lower:
        words.append(("at least " if lower[0] == "ge" else "greater than ") + _num(lower[1]))
    if upper:
        words.append(("at most " if upper[0] == "le" else "less than ") + _num(upper[1]))
    return " and ".join(words) or "in range"


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) else str(value)


def _show(value: Any) -> str:
    """The offending value as the producer wrote it (JSON), cut short."""
    if isinstance(value, float) and not math.isfinite(value):
        text = "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    if len(text) > _MAX_SHOWN:
        text = text[: _MAX_SHOWN - 1] + "…"
    return text


def json_kind(value: Any) -> str:
    """How a producer would name this JSON value's type: "an array", "null", ..."""
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "a " + type(value).__name__


def make_dead_letter(
    source_topic: str,
    partition: int | None,
    offset: int | None,
    raw: bytes | None,
    error: str,
    received_at: datetime,
    max_payload_chars: int = 4096,
) -> DeadLetter:
    """A DeadLetter for `raw`: text when it is UTF-8, else base64; huge payloads keep their
    size (`payload_size`, in bytes) and a head of at most `max_payload_chars` characters."""
    data = b"" if raw is None else bytes(raw)
    limit = max(0, max_payload_chars)
    try:
        text = data.decode("utf-8")
        encoding = "utf-8"
        truncated = len(text) > limit
        payload = text[:limit]
    except UnicodeDecodeError:
        encoding = "base64"
        # Whole 3-byte groups encode to whole 4-character groups, so the head is valid base64
        # that decodes to exactly the first bytes of the original.
        head = data[: (limit // 4) * 3]
        truncated = len(head) < len(data)
        payload = base64.b64encode(head).decode("ascii")
    if received_at.tzinfo is None:
        # Our own clock values are UTC; a naive one must not shift by the host's zone.
        received_at = received_at.replace(tzinfo=UTC)
    return DeadLetter(
        source_topic=source_topic,
        partition=partition,
        offset=offset,
        error=error if len(error) <= 4000 else error[:3999] + "…",
        payload=payload,
        payload_encoding=encoding,
        payload_size=len(data),
        payload_truncated=truncated,
        received_at=received_at.astimezone(UTC),
    )
