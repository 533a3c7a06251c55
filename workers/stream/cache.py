"""A bounded cache of decoded accounts (least recently used out first).

Decoding an account costs far more than a dict lookup, so the accounts a worker is busy with
stay decoded; the rest of the book lives only in the store. Each entry keeps the bytes last
committed for it, so a batch writes an account only when its encoding changed.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from workers.core.engine import AccountState


@dataclass
class CachedAccount:
    state: AccountState
    partition: int
    stored: bytes | None  # the committed encoding; None for an account not in the store yet


class AccountCache:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[str, CachedAccount] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, account_id: str) -> CachedAccount | None:
        entry = self._entries.get(account_id)
        if entry is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(account_id)
        return entry

    def put(self, account_id: str, entry: CachedAccount) -> None:
        self._entries[account_id] = entry
        self._entries.move_to_end(account_id)

    def evict(self) -> int:
        """Drop the least recently used entries over capacity (call between batches: every
        entry is then committed, so dropping one loses nothing)."""
        dropped = 0
        entries = self._entries
        while len(entries) > self.capacity:
            entries.popitem(last=False)
            dropped += 1
        return dropped

    def drop_partitions(self, partitions: set[int]) -> None:
        for account_id in [a for a, e in self._entries.items() if e.partition in partitions]:
            del self._entries[account_id]
