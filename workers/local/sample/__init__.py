"""The bundled demo sample: a deterministic, realistic book of accounts.

`generate_sample()` builds eight weeks of events for ~120 accounts whose stories exercise the
whole health model and trigger catalogue of DOMAIN.md: steady healthy accounts, expansion
candidates, usage drops (some recovering), accounts that go dark, silent champions, detractors,
support escalations, low adoption, accounts sliding from healthy to at risk to critical (some
recovering), new customers whose onboarding goes wrong from the start, renewals approaching (and
a few renewing), plus a handful of duplicate deliveries.

Determinism is the point: a seeded `random.Random`, fixed dates and no wall clock, so the demo,
the docs and the tests all see the very same events (and therefore the very same tasks).

The first account event of every account carries an extra `sample_archetype` field naming its
story. The contract ignores unknown fields, so the workers never see it; `describe_sample` and
the tests use it as ground truth.

    python -m workers.local.sample --out sample.jsonl [--accounts N --weeks W --seed S]

The parts: catalogue.py (what the sample is made of), book.py (the working records),
stories.py (the accounts and their stories), activity.py (the events a story produces),
generate.py (`generate_sample`) and output.py (`write_sample`, `describe_sample`, the command).
"""

from workers.local.sample.catalogue import (
    ARCHETYPES,
    CORE_FEATURES,
    CSMS,
    SAMPLE_FEATURES,
    SEGMENTS,
)
from workers.local.sample.generate import generate_sample
from workers.local.sample.output import describe_sample, main, write_sample

__all__ = [
    "ARCHETYPES",
    "CORE_FEATURES",
    "CSMS",
    "SAMPLE_FEATURES",
    "SEGMENTS",
    "describe_sample",
    "generate_sample",
    "main",
    "write_sample",
]
