"""A JSON-lines events file read for `backtest` and `evaluate` in two passes, so memory
follows the number of events only by a small index, not by their decoded models.

A year of a real book is tens of millions of events; decoded and held in memory at once
(about 1.6 KB each) that is tens of gigabytes. Instead:
1. the index pass validates every line (bad ones are reported with their line number before
   any rule runs) and keeps, per valid event, its place in the worker's order (event time,
   topic rank, event id: workers/stream/holding.py) packed in one bytes value, and where the
   line is in the file;
2. `ordered()` sorts that index and decodes the lines again one at a time, in that order,
   from a memory map of the file.
The order is exactly `hold()`'s, ties included (a stable sort keeps the file's order between
equal keys, as sorting the held events does).
"""

from __future__ import annotations

import mmap
import struct
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from events.jsonl import LineError, ProduceRecord, parse_file_line
from events.models import AnyInbound
from workers.stream.holding import TOPIC_RANK

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_SHIFT = 1 << 63  # signed microseconds -> unsigned, so bytes order is time order
_PREFIX = struct.Struct(">QB")
PROGRESS_EVERY = 1_000_000  # lines between progress reports of either pass


class EventFileChanged(Exception):
    """The file no longer holds, at an indexed place, the event the index pass read there."""


def order_key(topic: str, event: AnyInbound) -> bytes:
    """`hold()`'s sort key (occurred_at, topic rank, event_id) as bytes in the same order:
    UTF-8 keeps the code-point order of the ids, and an id that is a prefix of another sorts
    first in both."""
    micros = (event.occurred_at - _EPOCH) // _MICRO
    rank = TOPIC_RANK.get(topic, 9)
    return _PREFIX.pack(micros + _SHIFT, rank) + event.event_id.encode("utf-8", "surrogatepass")


@dataclass
class EventFile:
    path: Path
    errors: list[LineError] = field(default_factory=list)
    accounts: set[str] = field(default_factory=set)
    start: datetime | None = None
    end: datetime | None = None
    _keys: list[bytes] = field(default_factory=list, repr=False)
    _offsets: array[int] = field(default_factory=lambda: array("q"), repr=False)
    _lengths: array[int] = field(default_factory=lambda: array("q"), repr=False)

    def __len__(self) -> int:
        return len(self._keys)

    @classmethod
    def index(cls, path: str | Path, progress: Callable[[str], None] | None = None) -> EventFile:
        """The index pass. Raises OSError when the file cannot be read."""
        found = cls(Path(path))
        offset = 0
        with open(found.path, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                at, offset = offset, offset + len(raw)
                if progress and line_no % PROGRESS_EVERY == 0:
                    progress(f"read {line_no:,} lines, {len(found):,} events…")
                result = _parse(raw, line_no)
                if result is None:
                    continue
                if isinstance(result, LineError):
                    found.errors.append(result)
                    continue
                event = result.event
                assert event is not None  # parse_jsonl_line sets it on every record
                found._keys.append(order_key(result.topic, event))
                found._offsets.append(at)
                found._lengths.append(len(raw))
                found.accounts.add(event.account_id)
                moment = event.occurred_at
                if found.start is None or moment < found.start:
                    found.start = moment
                if found.end is None or moment > found.end:
                    found.end = moment
        return found

    def ordered(
        self, progress: Callable[[str], None] | None = None
    ) -> Iterator[tuple[str, AnyInbound]]:
        """The indexed events, decoded one at a time in the worker's order."""
        if not self._keys:
            return
        order = sorted(range(len(self._keys)), key=self._keys.__getitem__)
        with open(self.path, "rb") as handle, mmap.mmap(
            handle.fileno(), 0, access=mmap.ACCESS_READ
        ) as view:
            for done, i in enumerate(order, start=1):
                at = self._offsets[i]
                # Only the first line can start with a byte order mark (as in the index pass).
                result = _parse(view[at : at + self._lengths[i]], 1 if at == 0 else 0)
                if not isinstance(result, ProduceRecord) or result.event is None:
                    raise EventFileChanged(
                        f"{self.path} changed while it was being read (byte {at:,} no longer "
                        "holds the event indexed there); run the command again"
                    )
                if order_key(result.topic, result.event) != self._keys[i]:
                    raise EventFileChanged(
                        f"{self.path} changed while it was being read (the event at byte "
                        f"{at:,} is not the one indexed there); run the command again"
                    )
                if progress and done % PROGRESS_EVERY == 0:
                    progress(f"applied {done:,} of {len(order):,} events…")
                yield result.topic, result.event


def _parse(raw: bytes, line_no: int) -> ProduceRecord | LineError | None:
    """One line as `parse_jsonl_lines` reads it (None: blank or a comment)."""
    return parse_file_line(raw.decode("utf-8", errors="replace"), line_no)
