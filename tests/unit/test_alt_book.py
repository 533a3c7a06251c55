"""The alt book (bench/alt_book.py): deterministic by seed, every line decodes, outcomes name
accounts of the book."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from events.decode import decode_event
from events.jsonl import parse_jsonl_lines

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture(scope="module")
def alt_book():  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(BENCH))
    try:
        import altbook

        yield altbook
    finally:
        sys.path.remove(str(BENCH))


def _write(altbook, tmp: Path, seed: int) -> tuple[bytes, bytes, object]:  # type: ignore[no-untyped-def]
    book = altbook.generate(seed=seed, accounts=40, weeks=20)
    altbook.write_events(book, tmp / "events.jsonl")
    altbook.write_outcomes(book, tmp / "outcomes.jsonl")
    return (tmp / "events.jsonl").read_bytes(), (tmp / "outcomes.jsonl").read_bytes(), book


def test_tiny_alt_book(alt_book, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "c").mkdir()
    events_a, outcomes_a, book = _write(alt_book, tmp_path / "a", seed=3)
    events_b, outcomes_b, _ = _write(alt_book, tmp_path / "b", seed=3)
    events_c, _, _ = _write(alt_book, tmp_path / "c", seed=4)
    assert time.perf_counter() - began < 10

    # Deterministic by seed, and the seed matters.
    assert events_a == events_b
    assert outcomes_a == outcomes_b
    assert events_a != events_c

    # Every line is a valid produce record and decodes as the workers would decode it.
    lines = events_a.decode("utf-8").splitlines()
    records, errors = parse_jsonl_lines(lines)
    assert errors == []
    assert len(records) == len(lines) > 1000
    kinds = set()
    for record in records:
        kinds.add(decode_event(record.topic, record.value).kind)
    assert kinds == {"account", "usage", "ticket", "nps"}
    assert len({json.loads(line)["event_id"] for line in lines}) == len(lines)

    # Outcomes: known kinds, accounts of the book, dips with their recovery date.
    accounts = {json.loads(line)["account_id"] for line in lines}
    assert len(accounts) == 40
    rows = [json.loads(line) for line in outcomes_a.decode("utf-8").splitlines()]
    outcome_kinds = {row["outcome"] for row in rows}
    assert outcome_kinds <= {"churned", "renewed", "expanded", "downgraded", "dipped"}
    assert {"churned", "expanded", "downgraded", "dipped"} <= outcome_kinds
    for row in rows:
        assert row["account_id"] in accounts
        if row["outcome"] == "dipped":
            assert row["until"] > row["date"]

    # A churner's account facts say so on its churn date.
    churned = {row["account_id"]: row["date"] for row in rows if row["outcome"] == "churned"}
    status = {
        (e["account_id"], e["occurred_at"][:10])
        for e in map(json.loads, lines)
        if e["type"] == "account" and e.get("status") == "churned"
    }
    assert status == set(churned.items())
    assert len(book.accounts) == 40
