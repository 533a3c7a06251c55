"""A labelled synthetic customer book: events plus what happened to every account.

`cs-signals sample --labelled` writes it; `cs-signals evaluate EVENTS --outcomes FILE` scores
alert rules on it (DOMAIN.md, "Alert quality"). Unlike the demo sample (workers/local/sample/,
which shows every playbook firing in eight weeks), this book is built to *judge* rules: six
months of ~300 accounts whose fates are known (churn, gradual or sudden; a dip that recovers;
expansion; downgrade; renewal), with the nuisances of a real book that make naive rules look
bad: a holiday week, vacations (champions included), weekends, small accounts where one
absence is a big percentage, a seasonal dip shared by a vertical, and noise in healthy
accounts (routine tickets, a rare escalation, the odd detractor).

Deterministic by seed, no wall clock. The first account event of every account names its
story in `sample_archetype` (ignored by the contract).

The parts: catalogue.py (figures and calendar), plan.py (the accounts and their stories),
builder.py (raw events), usage.py, support.py, facts.py (events and outcomes rows),
generate.py (`generate_labelled_book`) and output.py (files and summary).
"""

from workers.local.labelled.catalogue import ARCHETYPES, Calendar
from workers.local.labelled.generate import LabelledBook, generate_labelled_book
from workers.local.labelled.output import describe_book, write_book

__all__ = [
    "ARCHETYPES",
    "Calendar",
    "LabelledBook",
    "describe_book",
    "generate_labelled_book",
    "write_book",
]
