"""The local state store: one RocksDB database per partition (via `rocksdict`).

The store holds the committed state of the partition's accounts (keys: workers/stream/keys.py)
and the changelog offset it is current with. It is written once per batch, atomically (one
WriteBatch with the data and the new offset), only after the batch's outputs and changelog
records were acknowledged by the broker — so on disk it is always a committed state, and a
restarted worker reads only the changelog records after that offset (see changelog.py).

Nothing here is required to survive: with an empty data directory (a new machine, a lost
volume) recovery rebuilds every partition from the changelog.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from rocksdict import Options, Rdict, WriteBatch

# Local-only metadata (not in the changelog): the changelog offset the store is current with.
_OFFSET_KEY = b"\x01changelog-offset"


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    return options


class PartitionStore:
    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = Rdict(str(path), _options())

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
        for key, value in self._db.items(from_key=prefix):
            if not key.startswith(prefix):
                return
            yield key, value

    def changelog_offset(self) -> int:
        """The last changelog offset applied to this store; -1 when none."""
        raw = self._db.get(_OFFSET_KEY)
        return int(raw) if raw is not None else -1

    def write(self, changes: Mapping[bytes, bytes | None], changelog_offset: int | None) -> None:
        """Apply `changes` (None deletes) and the new offset in one atomic write."""
        batch = WriteBatch(raw_mode=True)
        for key, value in changes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        if changelog_offset is not None:
            batch.put(_OFFSET_KEY, str(changelog_offset).encode())
        self._db.write(batch)

    def approximate_bytes(self) -> int:
        try:
            return int(self._db.property_int_value("rocksdb.estimate-live-data-size") or 0)
        except Exception:  # a statistic, never worth failing for
            return 0

    def close(self) -> None:
        self._db.close()


class LocalStores:
    """The partition stores of one app id under the data directory."""

    def __init__(self, data_dir: Path, app_id: str) -> None:
        self.root = data_dir / app_id / "state"
        self._open: dict[int, PartitionStore] = {}

    def get(self, partition: int) -> PartitionStore:
        store = self._open.get(partition)
        if store is None:
            store = self._open[partition] = PartitionStore(self.root / f"p{partition:04d}")
        return store

    def is_open(self, partition: int) -> bool:
        return partition in self._open

    def reset(self, partition: int) -> PartitionStore:
        """Throw the partition's local copy away (it will be rebuilt from the changelog)."""
        store = self._open.pop(partition, None)
        if store is not None:
            store.close()
        shutil.rmtree(self.root / f"p{partition:04d}", ignore_errors=True)
        return self.get(partition)

    def close(self) -> None:
        for store in self._open.values():
            store.close()
        self._open.clear()
