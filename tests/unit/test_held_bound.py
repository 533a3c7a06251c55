"""Held events are bounded: past the limit, the partition clock moves up to release the oldest."""

from __future__ import annotations

import json
from pathlib import Path

from config.settings import Settings
from events.decode import decode_event
from workers.core.testing import default_rules
from workers.stream.app import SignalWorker
from workers.stream.holding import hold
from workers.stream.partition import PartitionState

T0 = 1_788_220_800.0  # 2026-09-01T00:00:00Z


def _usage(n: int) -> tuple[str, bytes]:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(T0 + n * 60, UTC).isoformat()
    body = {
        "event_id": f"e{n}",
        "account_id": "a",
        "occurred_at": when,
        "user_id": "u",
        "feature": "reports",
    }
    return "usage-events", json.dumps(body).encode()


class _Quiet:
    """Other tests leave structlog bound to a closed capture stream: log nowhere."""

    def warning(self, *args: object, **kwargs: object) -> None:
        pass


def test_a_partition_over_its_held_limit_releases_the_oldest(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"CS_DATA_DIR": str(tmp_path), "CS_MAX_HELD_EVENTS": "5"}, env_file=None
    )
    worker = SignalWorker(settings, default_rules())
    worker.log = _Quiet()
    part = PartitionState(0, worker.parts.stores.get(0))
    for n in range(12):
        topic, raw = _usage(n)
        part.hold("a", hold(decode_event(topic, raw), topic, raw, None))
    clock = worker._bound_held(part, None)
    assert clock == T0 + 6 * 60  # 12 held, limit 5: the 7 oldest go (minutes 0..6)
    assert part.clock.reached == clock
    assert worker.metrics.forced_releases == 7
    assert worker._bound_held(part, T0 + 3600) == T0 + 3600  # a clock past them: unchanged


def test_under_the_limit_nothing_moves(tmp_path: Path) -> None:
    settings = Settings.from_env({"CS_DATA_DIR": str(tmp_path)}, env_file=None)
    worker = SignalWorker(settings, default_rules())
    part = PartitionState(0, worker.parts.stores.get(0))
    topic, raw = _usage(0)
    part.hold("a", hold(decode_event(topic, raw), topic, raw, None))
    assert worker._bound_held(part, None) is None
    assert worker.metrics.forced_releases == 0
