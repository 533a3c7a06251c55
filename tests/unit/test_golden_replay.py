"""Golden replay: the demo sample backtested with the bundled rules raises exactly the recorded
tasks (tests/fixtures/golden_demo_tasks.jsonl.gz; see tests/fixtures/README.md for its history).

The fixture pins the behaviour of the pure core across refactors of its state: bounded
per-account state, user records in their own store, the versioned codec. Any difference in a
single field of a single task fails the test, with the first differing message shown. A change
of behaviour (a new playbook, new events in the sample) regenerates it deliberately.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

from config.rules import load_rules
from events.decode import decode_event
from events.jsonl import parse_jsonl_lines
from workers.local.sample import generate_sample
from workers.replay.backtest import backtest

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOLDEN = FIXTURES / "golden_demo_tasks.jsonl.gz"
GOLDEN_MESSAGES = 342


def _golden() -> list[dict]:
    text = gzip.decompress(GOLDEN.read_bytes()).decode("utf-8")
    tasks = [json.loads(line) for line in text.splitlines()]
    # The recorded digest is of the task list as `json.dumps(tasks, sort_keys=True)`.
    expected_sha = (FIXTURES / "golden_demo_tasks.sha256").read_text().split()[0]
    digest = hashlib.sha256(json.dumps(tasks, sort_keys=True).encode("utf-8")).hexdigest()
    assert digest == expected_sha, "the golden fixture was modified"
    return tasks


def test_demo_sample_backtest_raises_exactly_the_golden_tasks() -> None:
    lines = [json.dumps(event) for event in generate_sample()]
    records, errors = parse_jsonl_lines(lines)
    assert errors == []
    events = [(r.topic, decode_event(r.topic, r.value)) for r in records]
    until = max(model.occurred_at for _topic, model in events)
    result = backtest(events, load_rules(), until=until)
    got = [task.model_dump(mode="json") for task in result.tasks]
    golden = _golden()
    assert len(golden) == GOLDEN_MESSAGES
    for index, (mine, theirs) in enumerate(zip(got, golden, strict=False)):
        assert mine == theirs, f"task message {index} differs"
    assert len(got) == len(golden)
