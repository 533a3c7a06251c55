"""The sample as a file and in figures: `write_sample`, `describe_sample`, and the
`python -m workers.local.sample` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from workers.local.sample.catalogue import ARCHETYPES
from workers.local.sample.generate import generate_sample


def write_sample(path: str | Path, **kw: Any) -> list[dict[str, Any]]:
    """Write `generate_sample(**kw)` as JSON lines (one event a line); returns the events."""
    events = generate_sample(**kw)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for event in events:
            fh.write(json.dumps(event, separators=(",", ":"), ensure_ascii=False))
            fh.write("\n")
    return events


def describe_sample(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts for the docs and the CLI: per type, per archetype, per segment, and more."""
    by_type = Counter(e["type"] for e in events)
    ids = Counter(e["event_id"] for e in events)
    archetype: dict[str, str] = {}
    segment: dict[str, str] = {}
    renewal_dates: dict[str, set[str]] = {}
    statuses: Counter[str] = Counter()
    nps: Counter[str] = Counter()
    users: set[str] = set()
    for e in events:
        kind = e["type"]
        if kind == "account":
            if "sample_archetype" in e:
                archetype.setdefault(e["account_id"], e["sample_archetype"])
            if "segment" in e:
                segment[e["account_id"]] = e["segment"]
            if "renewal_date" in e:
                renewal_dates.setdefault(e["account_id"], set()).add(e["renewal_date"])
        elif kind == "usage":
            users.add(e["user_id"])
        elif kind == "ticket":
            statuses[e["status"]] += 1
        elif kind == "nps":
            score = e["score"]
            nps["detractor" if score <= 6 else "passive" if score <= 8 else "promoter"] += 1
    return {
        "events": len(events),
        "unique_event_ids": len(ids),
        "duplicate_deliveries": sum(n - 1 for n in ids.values()),
        "by_type": {
            k: by_type.get(k, 0)
            for k in ("account", "usage", "ticket", "nps", "activity", "milestone")
        },
        "accounts": len({e["account_id"] for e in events}),
        "active_users": len(users),
        "by_segment": dict(sorted(Counter(segment.values()).items())),
        "by_archetype": {a: n for a in ARCHETYPES if (n := Counter(archetype.values())[a])},
        "ticket_statuses": dict(sorted(statuses.items())),
        "nps_responses": {k: nps.get(k, 0) for k in ("promoter", "passive", "detractor")},
        "renewals_signed": sum(1 for dates in renewal_dates.values() if len(dates) > 1),
        "first_event_at": events[0]["occurred_at"] if events else None,
        "last_event_at": events[-1]["occurred_at"] if events else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m workers.local.sample",
        description="Write the deterministic demo sample as JSON lines (for `cs-signals produce`).",
    )
    parser.add_argument("--out", required=True, help="output file (JSON lines); '-' for stdout")
    parser.add_argument("--accounts", type=int, default=120, help="accounts (default 120)")
    parser.add_argument("--weeks", type=int, default=8, help="weeks of events (default 8)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=date(2026, 8, 31),
        help="first day, YYYY-MM-DD (default 2026-08-31)",
    )
    args = parser.parse_args(argv)
    if args.accounts < 1 or args.weeks < 1:
        parser.error("--accounts and --weeks must be at least 1")
    kw = {"accounts": args.accounts, "weeks": args.weeks, "seed": args.seed, "start": args.start}
    if args.out == "-":
        events = generate_sample(**kw)
        try:
            for event in events:
                line = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
                sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            # `... | head`: the reader has seen enough; that is not an error.
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stops a second error at exit
            return 0
        report = sys.stderr  # keep stdout pure JSON lines for a pipe
    else:
        events = write_sample(args.out, **kw)
        report = sys.stdout
    info = describe_sample(events)
    lines = [
        f"wrote {info['events']} events to {args.out}",
        f"  {info['first_event_at']} .. {info['last_event_at']}",
        "  by type:      " + ", ".join(f"{k} {v}" for k, v in info["by_type"].items()),
        "  by segment:   " + ", ".join(f"{k} {v}" for k, v in info["by_segment"].items()),
        "  by archetype: " + ", ".join(f"{k} {v}" for k, v in info["by_archetype"].items()),
        f"  duplicate deliveries: {info['duplicate_deliveries']}",
    ]
    print("\n".join(lines), file=report)
    return 0
