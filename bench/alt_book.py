"""The alt book: a second labelled synthetic book, of a different make from the shipped
labelled sample, to check alert rules tuned on one against the other (overfitting).

    python bench/alt_book.py --out /tmp/alt/events.jsonl --outcomes /tmp/alt/outcomes.jsonl

Writes the events as a `cs-signals produce` file (one JSON object a line, with a `type`) and
what happened to the accounts as an outcomes file (CONTRACT.md, "Outcomes file"; plus `dipped`
rows with `until` for real temporary dips that recovered). Deterministic by `--seed`;
standard library only. The model lives in bench/altbook/ (see its modules' docstrings); the
summary goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from altbook import Book, generate, write_events, write_outcomes  # noqa: E402
from altbook.days import DEFAULT_START  # noqa: E402
from altbook.plan import shape_counts  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="events file (JSON lines)")
    parser.add_argument("--outcomes", type=Path, required=True, help="outcomes file")
    parser.add_argument("--csv", action="store_true", help="write the outcomes as CSV")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--accounts", type=int, default=400)
    parser.add_argument("--weeks", type=int, default=30)
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=DEFAULT_START,
        help=f"first day of the book (default {DEFAULT_START}, a Monday)",
    )
    args = parser.parse_args(argv)
    if args.accounts < 20 or args.weeks < 12:
        parser.error("the book needs --accounts >= 20 and --weeks >= 12")
    began = time.perf_counter()
    try:
        book = generate(args.seed, args.accounts, args.weeks, args.start)
    except ValueError as exc:
        parser.error(str(exc))
    size = write_events(book, args.out)
    write_outcomes(book, args.outcomes, as_csv=args.csv)
    print_summary(book, size, time.perf_counter() - began)
    return 0


def print_summary(book: Book, size: int, seconds: float) -> None:
    cal = book.calendar
    out = sys.stderr
    span = f"{cal.start} .. {cal.end} ({cal.weeks} weeks)"
    print(f"alt book: {len(book.accounts)} accounts, {span}", file=out)
    brk = cal.year_end_break()
    if brk:
        print(f"  year-end break: {cal.day(brk.start)} .. {cal.day(brk.stop - 1)}", file=out)
    holidays = ", ".join(str(cal.day(d)) for d in sorted(cal.public_holidays()))
    print(f"  public holidays: {holidays or 'none'}", file=out)
    print("shapes:", file=out)
    for shape, count in shape_counts(len(book.accounts)).items():
        print(f"  {shape:<16}{count:>6}", file=out)
    print("overlays:", file=out)
    for name, count in sorted(book.overlays.items()):
        print(f"  {name:<30}{count:>8,}", file=out)
    print("outcomes:", file=out)
    for kind, count in sorted(Counter(r["outcome"] for r in book.outcomes).items()):
        print(f"  {kind:<16}{count:>6}", file=out)
    types = Counter(str(e["type"]) for e in book.events)
    per_type = ", ".join(f"{k} {v:,}" for k, v in sorted(types.items()))
    print(f"events: {len(book.events):,} ({per_type})", file=out)
    print(f"file: {size / 1e6:.1f} MB; generated and written in {seconds:.1f} s", file=out)


if __name__ == "__main__":
    sys.exit(main())
