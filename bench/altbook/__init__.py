"""The alt book: a labelled synthetic book of accounts "of a different make" (bench/alt_book.py).

It is designed independently of the product's own labelled sample, so that alert rules tuned
on one can be checked on the other. Standard library only; everything is drawn from
`random.Random` instances seeded from `--seed` (one per account), so a seed gives the same
bytes on every machine and Python version that keeps `random`'s documented algorithms.

Modules: `calendar` (book dates, holidays, weekly rhythms, times of day), `plan` (the
accounts, their shapes and their outcomes), `activity` (users and usage), `support` (tickets
and NPS), `book` (putting it together, writing the files, the summary).
"""

from altbook.book import Book, generate, write_events, write_outcomes

__all__ = ["Book", "generate", "write_events", "write_outcomes"]
