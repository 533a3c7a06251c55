"""The real worker, fed a realistic sample through the broker (topics read at their own pace,
in batches), raises exactly the tasks the pure core raises when the same events are applied
in event-time order: same ids, same actions, same priorities, same times."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.rules import DEFAULT_RULES_PATH, load_rules
from events.models import EVENT_TYPES, INBOUND_TOPICS
from tests.integration.harness import Namespace, WorkerProcess, parse_ts, read_topic
from workers.local.sample import generate_sample
from workers.replay.backtest import backtest
from workers.stream.kafka_io import make_producer
from workers.stream.partitioning import partition_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITIONS = 4


def _key(task: dict) -> tuple:
    return (
        task["task_id"],
        task["action"],
        task["priority"],
        parse_ts(task["created_at"]),
        parse_ts(task["due_at"]),
    )


def test_worker_matches_the_pure_core_on_a_replayed_sample(
    ns: Namespace, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    ns.partitions = PARTITIONS
    # The book baseline on for partitions of ~7 accounts (the default needs 20 active), so
    # the worker's per-partition baselines are held to the backtest's too.
    rules_file = tmp_path / "rules.yaml"
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    assert "  min_accounts: 20\n" in text
    rules_file.write_text(text.replace("  min_accounts: 20\n", "  min_accounts: 3\n"))
    ns.extra_env["CS_RULES_FILE"] = str(rules_file)
    sample = generate_sample(accounts=30, weeks=8, seed=11)
    worker = WorkerProcess(ns, "replay-1").start()
    workers.append(worker)
    producer = make_producer(ns.bootstrap)  # ordinary batching, as a real producer would
    for event in sample:
        body = {k: v for k, v in event.items() if k != "type"}
        producer.send(
            ns.topic(EVENT_TYPES[event["type"]]),
            key=event["account_id"].encode(),
            value=json.dumps(body).encode(),
        )
    producer.flush()
    producer.close()

    # Wait until the worker has taken in every event and gone quiet.
    deadline = time.monotonic() + 180
    last_seen, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        snap = worker.metrics() or {}
        seen = snap.get("events_in_total", 0) + snap.get("tasks_out_total", 0)
        if seen != last_seen:
            last_seen, stable_since = seen, time.monotonic()
        elif snap.get("events_in_total") == len(sample) and time.monotonic() - stable_since > 5:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"worker did not finish:\n{worker.log()}")

    # The reference: the pure core, events in event-time order, then every account advanced
    # to the last hour boundary its partition's clock reached.
    models = [
        (topic, INBOUND_TOPICS[topic].model_validate(body))
        for topic, body in (
            (EVENT_TYPES[e["type"]], {k: v for k, v in e.items() if k != "type"}) for e in sample
        )
    ]
    partition_end: dict[int, datetime] = defaultdict(lambda: datetime.min.replace(tzinfo=UTC))
    for _topic, model in models:
        p = partition_for(model.account_id.encode(), PARTITIONS)
        partition_end[p] = max(partition_end[p], model.occurred_at)
    until = {
        model.account_id: _floor_hour(
            partition_end[partition_for(model.account_id.encode(), PARTITIONS)]
        )
        for _topic, model in models
    }
    expected = backtest(models, load_rules(rules_file), until=until, partitions=PARTITIONS)
    expected_keys = sorted(_key(t.model_dump(mode="json")) for t in expected.tasks)

    actual_keys = sorted(_key(t) for t in read_topic(ns, "playbook-tasks"))
    assert len({k[0] for k in expected_keys}) >= 10, "the sample should raise many tasks"
    missing = [k for k in expected_keys if k not in actual_keys]
    extra = [k for k in actual_keys if k not in expected_keys]
    assert not missing and not extra, f"missing {missing[:5]}\nextra {extra[:5]}"
    assert actual_keys == expected_keys


def _floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)
