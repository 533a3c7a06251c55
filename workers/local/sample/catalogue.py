"""What the sample is made of: features and usage mixes, users' habits, segments, CSMs,
account names, ticket subjects, NPS comments, and the archetypes (the stories) with their
share of the book.
"""

from __future__ import annotations

CORE_FEATURES: tuple[str, ...] = (
    "dashboards",
    "reports",
    "alerts",
    "integrations",
    "automation",
    "exports",
)
NON_CORE_FEATURES: tuple[str, ...] = ("settings", "search", "comments")
# Must match `health.core_features` in config/rules.yaml: adoption is measured against it.
SAMPLE_FEATURES: dict[str, tuple[str, ...]] = {
    "core": CORE_FEATURES,
    "non_core": NON_CORE_FEATURES,
}

# feature -> (relative weight, min quantity, max quantity). One usage event aggregates a burst
# of actions (`quantity`), which keeps the volume replayable in well under a minute.
_FEATURE_MIX: dict[str, tuple[int, int, int]] = {
    "dashboards": (26, 1, 12),
    "reports": (15, 1, 5),
    "alerts": (10, 1, 8),
    "integrations": (8, 1, 20),
    "automation": (8, 1, 10),
    "exports": (8, 1, 3),
    "settings": (5, 1, 2),
    "search": (11, 1, 6),
    "comments": (9, 1, 4),
}
# Low adoption: one core feature (1/6 = 17% < 30%) plus the non-core ones.
_LOW_ADOPTION_MIX: dict[str, int] = {"dashboards": 40, "settings": 15, "search": 25, "comments": 20}
# A stalled onboarding: the pilot group sticks to dashboards, reports and the integration being
# set up (at most 3 of 6 core features, at most 50%: the adoption component is never good).
_ONBOARDING_MIX: dict[str, int] = {
    "dashboards": 35,
    "integrations": 20,
    "reports": 10,
    "settings": 15,
    "search": 10,
    "comments": 10,
}

# Events per active user-day (1-4, mostly 1-2): realistic bursts without a flood of lines.
_EVENTS_PER_DAY = (1, 2, 3, 4)
_EVENTS_PER_DAY_WEIGHTS = (70, 22, 6, 2)

SEGMENTS = ("enterprise", "mid_market", "smb")
# Cycling through this for the k-th account of each archetype mixes every archetype with 3+
# accounts across all three segments, and gives a realistic book (~14% enterprise).
_SEGMENT_CYCLE = ("mid_market", "smb", "enterprise", "smb", "mid_market", "smb", "mid_market")
# Users have habits: each works in the tool on a few fixed weekdays (the Monday report, the
# Thursday review) and rarely otherwise. Habits keep weekly-active counts as steady as they
# are in real products, so week-over-week drops in the sample are the stories, not noise,
# while the daily volume stays low. Small teams live in the tool; enterprises have more
# occasional users. Weekly-active users land at ~70-90% of seats.
_HABIT_DAYS = {
    "enterprise": (1, 1, 1, 1, 2),
    "mid_market": (1, 1, 2, 2, 3),
    "smb": (2, 2, 3, 3, 4),
    "expansion": (2, 3, 3, 4),
}
_ON_HABIT, _OFF_HABIT, _WEEKEND = 0.85, 0.04, 0.02
# The champion is the account's admin: in the tool nearly every workday, so a silent champion
# is a real signal, never a coincidence.
_CHAMPION_WEEK = (0.9, 0.9, 0.9, 0.9, 0.9, 0.05, 0.02)
_ARR_PER_SEAT = {"enterprise": (700, 1200), "mid_market": (450, 750), "smb": (250, 500)}
# UTC offsets of the accounts' working hours (Americas and Europe).
_TZ_OFFSETS = (-7, -6, -5, -4, 0, 1, 1, 2)

CSMS = (
    "csm-ana",
    "csm-ben",
    "csm-chloe",
    "csm-dev",
    "csm-elena",
    "csm-farid",
    "csm-grace",
    "csm-hiro",
)

_NAME_STEMS = (
    "Aldergrove", "Bluefin", "Brightwater", "Cobalt", "Driftwood", "Evergreen", "Foxglove",
    "Granite", "Harborview", "Ironbark", "Juniper", "Keystone", "Lighthouse", "Meridian",
    "Northwind", "Oakridge", "Pinecrest", "Quarryhill", "Redwood", "Silverline", "Tidewater",
    "Summitview", "Willowbrook", "Zephyr",
)  # fmt: skip
_NAME_TRADES = (
    "Logistics", "Health", "Foods", "Labs", "Analytics", "Retail", "Energy", "Media",
    "Capital", "Robotics", "Travel", "Insurance", "Telecom", "Studios", "Freight", "Clinics",
)  # fmt: skip

_TICKET_SUBJECTS = (
    "Report export times out",
    "SSO login loop for some users",
    "Dashboard widgets show stale data",
    "Integration sync failing with 429",
    "Question about automation limits",
    "Alert emails delayed",
    "How do I bulk-invite users?",
    "CSV import rejects dates",
    "Billing contact change",
    "Permissions for read-only role",
)
_ESCALATION_SUBJECTS = (
    "Production outage: integration sync down",
    "Data missing from executive dashboard",
    "All alerts stopped firing",
    "API errors blocking month-end close",
)
_DETRACTOR_COMMENTS = (
    "Too many bugs lately and support is slow.",
    "The product got harder to use after the last release.",
    "We are not getting the value we were promised.",
    "Reporting is unreliable; we export to spreadsheets instead.",
)
_PROMOTER_COMMENTS = (
    "Great team, the product keeps getting better.",
    "Automation saves us hours every week.",
    "The new dashboards are exactly what we needed.",
)

# (archetype, share of the book). "healthy" takes whatever is left.
_PLAN: tuple[tuple[str, float], ...] = (
    ("expansion", 0.09),
    ("declining", 0.042),
    ("declining_recovers", 0.042),
    ("usage_stops", 0.05),
    ("silent_champion", 0.035),
    ("silent_champion_returns", 0.035),
    ("detractor", 0.042),
    ("detractor_then_promoter", 0.042),
    ("escalation", 0.085),
    ("low_adoption", 0.067),
    ("sliding", 0.05),
    ("sliding_recovers", 0.035),
)
# Stories told by accounts taken from the healthy pool *after* the book is drawn, each re-rolled
# from its own seeded generator: every other account stays exactly as it was.
#   troubled_onboarding: a brand-new customer signs mid-sample. Only a small pilot group ever
#   logs in and an integration blocker is escalated right after the warm-up, so its first real
#   score is already at risk (no fall "from above": health_at_risk stays quiet) and the
#   escalation takes it below 50: health_critical opens as a task of its own.
_CONVERTED: tuple[tuple[str, float], ...] = (("troubled_onboarding", 0.035),)
ARCHETYPES: tuple[str, ...] = (
    "healthy",
    *(name for name, _ in _PLAN),
    *(name for name, _ in _CONVERTED),
)
# Stories that need a team of at least ~10 users so that "the earlier week had >= 5 active
# users" holds and the fractions below are visible.
_NEEDS_TEAM = {
    "declining",
    "declining_recovers",
    "usage_stops",
    "sliding",
    "sliding_recovers",
    "troubled_onboarding",
}
