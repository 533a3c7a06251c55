"""The per-event time budget behind c/b: what the pure core costs on (c)'s own events, in
process, with no broker, store or Redis.

c/b >= 0.8 means the worker may spend at most 1/0.8 = 1.25 times the faust noop's time per
event, i.e. add at most a quarter of b's per-event time for everything it does: decoding
and validating the event, folding it, evaluating, encoding state, writing the changelog and
the outputs. This measures the first parts of that alone, so the report can set them
against the budget: decode (json + pydantic validation, as the worker's `decode_event`)
and the core (`backtest`: fold, dedup, evaluations in event-time order, in memory).
"""

from __future__ import annotations

import time
from contextlib import suppress
from dataclasses import dataclass

from config.rules import load_rules
from events.decode import DecodeError, decode_event
from workers.replay.backtest import backtest
from workload import Record


@dataclass
class CoreCost:
    events: int
    decode_us: float  # per event
    core_us: float  # per event: fold + evaluations, in memory, no I/O
    repeats: int


def measure_core_cost(
    records: list[Record], partitions: int, rules_path: str | None = None, repeats: int = 2
) -> CoreCost:
    """Best of `repeats` runs of each part (the least disturbed by the rest of the machine)."""
    rules = load_rules(rules_path)
    decode_best = core_best = float("inf")
    decoded = []
    for _ in range(repeats):
        decoded = []
        began = time.perf_counter()
        for topic, _key, value in records:
            # An invalid event is a dead letter in the worker, not part of the core.
            with suppress(DecodeError):
                decoded.append((topic, decode_event(topic, value)))
        decode_best = min(decode_best, time.perf_counter() - began)
    for _ in range(repeats):
        began = time.perf_counter()
        backtest(decoded, rules, partitions=partitions)
        core_best = min(core_best, time.perf_counter() - began)
    n = max(1, len(records))
    return CoreCost(len(records), decode_best / n * 1e6, core_best / n * 1e6, repeats)
