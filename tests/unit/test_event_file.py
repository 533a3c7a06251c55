"""The two-pass events file of backtest and evaluate (workers/replay/event_file.py): the
worker's order exactly, ties included, from a small index instead of every decoded event."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from config.rules import load_rules
from events.jsonl import parse_jsonl_lines
from workers.local.sample import generate_sample
from workers.replay.backtest import backtest
from workers.replay.event_file import EventFile, EventFileChanged, order_key
from workers.stream.holding import hold

T = "2026-03-02T10:00:00Z"


def _line(**fields: object) -> str:
    return json.dumps(fields)


def _usage(event_id: str, when: str = T, account: str = "acct-1", user: str = "u1") -> str:
    return _line(
        type="usage", event_id=event_id, account_id=account, user_id=user,
        feature="reports", occurred_at=when,
    )  # fmt: skip


def _account(event_id: str, when: str = T, account: str = "acct-1") -> str:
    return _line(
        type="account", event_id=event_id, account_id=account, occurred_at=when,
        licensed_seats=10, segment="smb", status="active",
    )  # fmt: skip


def _in_memory_order(path: Path) -> list[str]:
    """The order the in-memory path gives: every record decoded, then sorted as held events."""
    records, _errors = parse_jsonl_lines(path.read_text(encoding="utf-8").splitlines())
    held = sorted(hold(r.event, r.topic, b"", None) for r in records if r.event is not None)
    return [h.model.event_id for h in held]


def test_order_is_the_held_events_order_ties_included(tmp_path: Path) -> None:
    lines = [
        _usage("b", "2026-03-02T10:00:00.000001Z"),
        _usage("a-long"),
        _usage("a"),  # a prefix of "a-long": first, in both orders
        _account("z"),  # same instant: facts before usage, whatever the id
        _usage("é"),  # beyond ASCII: code-point order
        _usage("a"),  # a redelivery: the same key, kept after the first (a stable sort)
        _usage("early", "2026-03-02T09:59:59.999999+00:00"),
        _usage("zone", "2026-03-02T11:00:00+01:00"),  # = 10:00 UTC
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    indexed = EventFile.index(path)
    got = [event.event_id for _topic, event in indexed.ordered()]
    assert got == ["early", "z", "a", "a", "a-long", "zone", "é", "b"]
    assert got == _in_memory_order(path)
    assert len(indexed) == 8 and indexed.accounts == {"acct-1"} and not indexed.errors
    assert indexed.start is not None and indexed.start.isoformat().startswith("2026-03-02T09:59")


def test_bad_lines_are_reported_with_their_numbers_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    text = "\ufeff" + "\n".join(
        [_usage("ok-1"), "", "# a comment", "{not json", _line(type="usage", event_id="x"),
         _usage("ok-2", account="acct-2")]  # fmt: skip
    )
    path.write_text(text + "\r\n", encoding="utf-8")
    indexed = EventFile.index(path)
    assert [e.line_no for e in indexed.errors] == [4, 5]
    assert "not valid JSON" in indexed.errors[0].message
    assert [event.event_id for _t, event in indexed.ordered()] == ["ok-1", "ok-2"]
    assert indexed.accounts == {"acct-1", "acct-2"}


def test_an_empty_file_has_no_events(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    indexed = EventFile.index(path)
    assert len(indexed) == 0 and list(indexed.ordered()) == [] and indexed.end is None


def test_a_file_changed_between_the_passes_is_said_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_usage("one") + "\n" + _usage("two") + "\n", encoding="utf-8")
    indexed = EventFile.index(path)
    path.write_text(_usage("owt") + "\n" + _usage("two") + "\n", encoding="utf-8")
    with pytest.raises(EventFileChanged, match="changed while it was being read"):
        list(indexed.ordered())


def test_the_sample_gives_the_same_tasks_as_the_in_memory_backtest(tmp_path: Path) -> None:
    # The demo's first two weeks, lines shuffled: the index restores the worker's order.
    events = [e for e in generate_sample() if e["occurred_at"] < "2026-09-14"]
    random.Random(7).shuffle(events)
    path = tmp_path / "sample.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    rules = load_rules()
    records, _ = parse_jsonl_lines(path.read_text(encoding="utf-8").splitlines())
    decoded = [(r.topic, r.event) for r in records if r.event is not None]
    indexed = EventFile.index(path)
    expected = backtest(decoded, rules, until=indexed.end, partitions=4)
    streamed = backtest(
        indexed.ordered(), rules, until=indexed.end, partitions=4, presorted=True
    )
    assert expected.tasks and streamed.tasks == expected.tasks
    assert streamed.health == expected.health and streamed.duplicates == expected.duplicates


def test_presorted_events_out_of_order_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(_usage("b") + "\n" + _usage("a") + "\n", encoding="utf-8")
    records, _ = parse_jsonl_lines(path.read_text(encoding="utf-8").splitlines())
    as_read = [(r.topic, r.event) for r in records if r.event is not None]
    with pytest.raises(ValueError, match="out of order"):
        backtest(as_read, load_rules(), presorted=True)
    keys = [order_key(topic, event) for topic, event in as_read]
    assert keys[1] < keys[0]
