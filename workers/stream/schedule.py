"""When each account of a partition is next due for a time-driven evaluation.

Instead of walking every account of a partition at every tick (cost growing with the book),
each account carries its next due time (`workers.core.engine.next_due`: the next evaluation
boundary, or later when the core knows that nothing can change before then), and a tick
pops only the accounts that are due. Stored with the account (keys.SCHEDULE) so a restored
partition knows its schedule without decoding every account.
"""

from __future__ import annotations

import heapq
import struct

_DUE = struct.Struct("<d")


def encode_due(due: float) -> bytes:
    return _DUE.pack(due)


def decode_due(raw: bytes) -> float:
    return _DUE.unpack(raw)[0]


class Schedule:
    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def get(self, account_id: str) -> float | None:
        return self._due.get(account_id)

    def set(self, account_id: str, due: float | None) -> bool:
        """Schedule (or, with None, unschedule) an account; True when that changed anything."""
        if self._due.get(account_id) == due:
            return False
        if due is None:
            del self._due[account_id]
            return True
        self._due[account_id] = due
        heapq.heappush(self._heap, (due, account_id))
        if len(self._heap) > 4 * len(self._due) + 1024:
            self._compact()
        return True

    def pop_due(self, upto: float, limit: int) -> list[str]:
        """Up to `limit` accounts due at or before `upto`, earliest first; they stay scheduled
        until the caller sets their next due time."""
        out: list[str] = []
        heap = self._heap
        popped: list[tuple[float, str]] = []
        while heap and heap[0][0] <= upto and len(out) < limit:
            due, account_id = heapq.heappop(heap)
            if self._due.get(account_id) != due:
                continue  # a stale entry: the account was rescheduled since
            out.append(account_id)
            popped.append((due, account_id))
        for entry in popped:
            # Kept in the heap until rescheduled, so a batch that fails and is retried still
            # finds them due.
            heapq.heappush(heap, entry)
        return out

    def next_due(self) -> float | None:
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0][0] if self._heap else None

    def _compact(self) -> None:
        self._heap = [(due, account) for account, due in self._due.items()]
        heapq.heapify(self._heap)
