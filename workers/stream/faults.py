"""Fault injection for the failure-semantics tests: make a named step of the commit fail.

`CS_INJECT_FAULTS="produce:3:2,store:10:1"` makes the 3rd and 4th passage through the
`produce` step raise, and the 10th through `store`. Steps: `core` (before the core runs),
`produce` (before the outputs are sent), `changelog` (before the state is sent) and `store`
(after the changelog, before the local store write). Unset in production: then `check` is a
dictionary lookup that finds nothing.
"""

from __future__ import annotations

import os
from collections import Counter

STEPS = ("core", "produce", "changelog", "store")


class InjectedFault(RuntimeError):
    pass


class FaultInjector:
    def __init__(self, plan: dict[str, tuple[int, int]]) -> None:
        self.plan = plan  # step -> (first passage that fails, how many fail)
        self.passages: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()

    @classmethod
    def parse(cls, text: str) -> FaultInjector:
        plan: dict[str, tuple[int, int]] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            step, _, rest = item.partition(":")
            first, _, times = rest.partition(":")
            if step not in STEPS or not first.isdigit() or (times and not times.isdigit()):
                raise ValueError(
                    f"CS_INJECT_FAULTS item {item!r}: expected STEP:FIRST[:TIMES] with STEP "
                    f"one of {', '.join(STEPS)}"
                )
            plan[step] = (int(first), int(times or 1))
        return cls(plan)

    @classmethod
    def from_env(cls) -> FaultInjector:
        return cls.parse(os.environ.get("CS_INJECT_FAULTS", ""))

    def check(self, step: str) -> None:
        if step not in self.plan:
            return
        self.passages[step] += 1
        first, times = self.plan[step]
        if first <= self.passages[step] < first + times:
            self.injected[step] += 1
            raise InjectedFault(f"injected {step} fault #{self.injected[step]}")
