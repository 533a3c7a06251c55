"""What a worker holds for one partition it owns: the local store, the clock, the schedule of
time-driven evaluations, the events held for the clock, and the batch's pending writes.

Everything here is either in the store or derived from it when the partition is loaded, so
dropping a `PartitionState` and loading it again (after a rebalance, or to roll back a failed
batch) gives the committed state.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from workers.core.book import BookActivity
from workers.core.users import UserRecord, decode_user, encode_user
from workers.stream import keys
from workers.stream.clock import PartitionClock
from workers.stream.holding import HeldEvent, decode_held, encode_held, rehold
from workers.stream.schedule import Schedule, decode_due, encode_due
from workers.stream.store import PartitionStore

_MISSING = object()


class PartitionState:
    def __init__(self, number: int, store: PartitionStore) -> None:
        self.number = number
        self.store = store
        self.loaded_at = time.time()
        self.clock = PartitionClock.from_bytes(store.get(keys.CLOCK))
        self.clock_dirty = False
        # What the partition's accounts do together, day by day (workers/core/book.py).
        self.book = BookActivity.from_bytes(store.get(keys.BOOK))
        self.schedule = Schedule()
        for key, value in store.scan(keys.SCHEDULE):
            self.schedule.set(keys.account_of(key), decode_due(value))
        # account -> its held events (stored per account under keys.HELD, so a crash or a
        # rebalance loses none); accounts whose held list changed in this batch
        self.held: dict[str, list[HeldEvent]] = {}
        self.held_changed: set[str] = set()
        for key, value in store.scan(keys.HELD):
            self.held[keys.account_of(key)] = [rehold(t, raw) for t, raw in decode_held(value)]
        # This batch's writes, not yet committed: key -> value (None deletes).
        self.pending: dict[bytes, bytes | None] = {}

    # -- held events ---------------------------------------------------------------------

    def hold(self, account_id: str, event: HeldEvent) -> None:
        self.held.setdefault(account_id, []).append(event)
        self.held_changed.add(account_id)

    def released(self, account_id: str, rest: list[HeldEvent]) -> None:
        if rest:
            self.held[account_id] = rest
        else:
            del self.held[account_id]
        self.held_changed.add(account_id)

    def held_count(self) -> int:
        return sum(len(events) for events in self.held.values())

    def release_point(self, cap: int) -> float | None:
        """The event time up to which releasing leaves at most `cap` events held; None when
        no more than `cap` are held."""
        count = self.held_count()
        if count <= cap:
            return None
        times = sorted(e.sort_key[0].timestamp() for es in self.held.values() for e in es)
        return times[count - cap - 1]

    def oldest_held(self) -> float | None:
        """When the longest-waiting held event was produced (wall time, from the message's
        timestamp; events restored from the store count from when they were restored)."""
        times = [e.produced_at for events in self.held.values() for e in events]
        known = [t for t in times if t is not None]
        if len(known) < len(times):
            known.append(self.loaded_at)
        return min(known) if known else None

    def persist_held(self) -> None:
        """One write per account whose held events changed in this batch (an event held and
        released within the batch leaves nothing to write when its account holds no other)."""
        for account_id in self.held_changed:
            events = self.held.get(account_id)
            key = keys.held_key(account_id)
            if events:
                self.pending[key] = encode_held(events)
            elif self.store.get(key) is not None or key in self.pending:
                self.pending[key] = None
        self.held_changed = set()

    # -- schedule ------------------------------------------------------------------------

    def reschedule(self, account_id: str, due: float | None) -> None:
        if self.schedule.set(account_id, due):
            key = keys.schedule_key(account_id)
            self.pending[key] = None if due is None else encode_due(due)

    # -- commit --------------------------------------------------------------------------

    def changes(self) -> dict[bytes, bytes | None]:
        if self.clock_dirty:
            self.pending[keys.CLOCK] = self.clock.to_bytes()
        if self.book.dirty:
            self.pending[keys.BOOK] = self.book.to_bytes()
        return self.pending

    def committed(self, offset: int) -> None:
        self.store.write(self.pending, offset)
        self.pending = {}
        self.clock_dirty = False
        self.book.dirty = False

    def accounts(self) -> Iterator[str]:
        for key, _ in self.store.scan(keys.ACCOUNT):
            yield keys.account_of(key)


class StoreUsers:
    """An account's per-user records, read from the partition store and written as pending
    changes of the batch (workers.core.users.UserStore)."""

    __slots__ = ("_partition", "_prefix")

    def __init__(self, partition: PartitionState, account_id: str) -> None:
        self._partition = partition
        self._prefix = keys.user_prefix(account_id)

    def get(self, user_id: str) -> UserRecord | None:
        key = self._prefix + user_id.encode()
        raw = self._partition.pending.get(key, _MISSING)
        if raw is _MISSING:
            raw = self._partition.store.get(key)
        return decode_user(raw) if raw else None  # type: ignore[arg-type]

    def put(self, user_id: str, record: UserRecord) -> None:
        self._partition.pending[self._prefix + user_id.encode()] = encode_user(record)
