"""What one batch writes to the state store and its changelog, gathered from the partitions and
the account cache before the commit sends it (app.py): no I/O here."""

from __future__ import annotations

from collections.abc import Iterable

from workers.core.codec import encode_state
from workers.stream import keys
from workers.stream.cache import AccountCache
from workers.stream.ownership import OwnedPartitions


def collect_changes(
    touched: Iterable[str],
    partitions: Iterable[int],
    cache: AccountCache,
    parts: OwnedPartitions,
) -> tuple[dict[str, bytes], dict[int, dict[bytes, bytes | None]]]:
    """The account values whose encoding changed (account -> value), staged in their
    partition's pending writes, and each touched partition's pending writes (held events,
    schedule, clock, book baseline included); partitions without any are left out."""
    encoded: dict[str, bytes] = {}
    for account_id in sorted(touched):
        entry = cache.get(account_id)
        if entry is None:
            continue
        raw = encode_state(entry.state)
        if raw != entry.stored:
            encoded[account_id] = raw
            parts.loaded[entry.partition].pending[keys.account_key(account_id)] = raw
    changes: dict[int, dict[bytes, bytes | None]] = {}
    for number in sorted(partitions):
        part = parts.get(number)
        if part is None:
            continue
        part.persist_held()
        pending = part.changes()
        if pending:
            changes[number] = pending
    return encoded, changes
