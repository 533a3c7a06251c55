"""What a worker holds for one partition it owns: the local store, the clock, the schedule of
time-driven evaluations, the events held for the clock, and the batch's pending writes.

Everything here is either in the store or derived from it when the partition is loaded, so
dropping a `PartitionState` and loading it again (after a rebalance, or to roll back a failed
batch) gives the committed state.
"""

from __future__ import annotations

from collections.abc import Iterator

from workers.core.users import UserRecord, decode_user, encode_user
from workers.stream import keys
from workers.stream.clock import PartitionClock
from workers.stream.holding import (
    HeldEvent,
    decode_held_value,
    encode_held_value,
    held_suffix,
    rehold,
)
from workers.stream.schedule import Schedule, decode_due, encode_due
from workers.stream.store import PartitionStore

_MISSING = object()


class PartitionState:
    def __init__(self, number: int, store: PartitionStore) -> None:
        self.number = number
        self.store = store
        self.clock = PartitionClock.from_bytes(store.get(keys.CLOCK))
        self.clock_dirty = False
        self.schedule = Schedule()
        for key, value in store.scan(keys.SCHEDULE):
            self.schedule.set(keys.account_of(key), decode_due(value))
        # account -> its held events; keys of held events that are in the store
        self.held: dict[str, list[HeldEvent]] = {}
        self.stored_held: set[bytes] = set()
        for key, value in store.scan(keys.HELD):
            topic, raw = decode_held_value(value)
            self.held.setdefault(keys.account_of(key), []).append(rehold(topic, raw))
            self.stored_held.add(key)
        # This batch's writes, not yet committed: key -> value (None deletes).
        self.pending: dict[bytes, bytes | None] = {}

    # -- held events ---------------------------------------------------------------------

    def hold(self, account_id: str, event: HeldEvent) -> None:
        self.held.setdefault(account_id, []).append(event)

    def held_count(self) -> int:
        return sum(len(events) for events in self.held.values())

    def oldest_held(self) -> float | None:
        times = [e.sort_key[0].timestamp() for events in self.held.values() for e in events]
        return min(times) if times else None

    def take_released(self, account_id: str, ready: list[HeldEvent]) -> None:
        """`ready` left the account's held list: delete the stored ones."""
        for event in ready:
            key = keys.held_key(account_id, held_suffix(event))
            if key in self.stored_held:
                self.stored_held.discard(key)
                self.pending[key] = None

    def persist_held(self) -> None:
        """Events still held at the end of a batch go to the store (and changelog), so a
        crash or a rebalance loses none of them."""
        for account_id, events in self.held.items():
            for event in events:
                key = keys.held_key(account_id, held_suffix(event))
                if key not in self.stored_held:
                    self.stored_held.add(key)
                    self.pending[key] = encode_held_value(event)

    # -- schedule ------------------------------------------------------------------------

    def reschedule(self, account_id: str, due: float | None) -> None:
        if self.schedule.set(account_id, due):
            key = keys.schedule_key(account_id)
            self.pending[key] = None if due is None else encode_due(due)

    # -- commit --------------------------------------------------------------------------

    def changes(self) -> dict[bytes, bytes | None]:
        if self.clock_dirty:
            self.pending[keys.CLOCK] = self.clock.to_bytes()
        return self.pending

    def committed(self, offset: int) -> None:
        self.store.write(self.pending, offset)
        self.pending = {}
        self.clock_dirty = False

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
