"""The public catalogue of derived metrics: every name a user-defined playbook condition may
use, with what it means. `workers/core/metrics.py` computes them; the rules validation checks
conditions against this list. It lives in config/ so that the rules never import the core.
"""

from __future__ import annotations

METRICS: dict[str, str] = {
    "active_users_7d": "distinct active users in the 7 completed days before evaluation",
    "active_users_prev_7d": "distinct active users in the 7 days before those",
    "active_users_30d": "distinct active users in the 30 completed days before evaluation",
    "active_users_7d_ratio": "active_users_7d / licensed seats (None when seats unknown or 0)",
    "book_level_7d": (
        "the book's (the partition's accounts') user-days in the last 7 days over its usual "
        "week (median of the 4 before); None without enough accounts (book_baseline)"
    ),
    "usual_week_active_users": (
        "in a week the whole book is off (book_level_7d below book_baseline.off_week_below): "
        "the active users of the last 7 days before it, which health judges instead"
    ),
    "usual_week_ended_days_ago": "how many days before yesterday that usual week ended",
    "usage_change_7d": "fractional change of active_users_7d vs the prior week (-0.3 = 30% drop)",
    "usage_volume_7d": "sum of usage quantities in the last 7 completed days",
    "features_used_30d": "distinct features used in the adoption window (default 30 days)",
    "core_features_used_30d": "distinct core features used in the adoption window",
    "adoption_ratio": "core features used in the adoption window / core features",
    "days_since_champion_active": "whole days since the champion was last active",
    "open_tickets": "open support tickets",
    "open_high_urgent_tickets": "open support tickets with priority high or urgent",
    "escalations_30d": "ticket escalations in the support window (default 30 days)",
    "oldest_urgent_ticket_age_hours": "age in hours of the oldest open urgent ticket",
    "latest_nps": "latest NPS score in the satisfaction window (default 180 days)",
    "days_since_last_nps": "whole days since the latest NPS response",
    "health_score": "the current health score (20-100)",
    "observed_days": "whole completed days since the account's first event (0 on that day)",
    "days_to_renewal": "days from the evaluation date to the renewal date",
    "days_since_contract_start": "days from the contract start to the evaluation date",
    "licensed_seats": "licensed seats",
    "arr": "annual recurring revenue",
    # Engagement (activity-events, milestone-events): None without activity data.
    "days_since_last_touch": "whole days since the CSM's last outbound touchpoint (not notes)",
    "days_since_last_inbound": "whole days since the customer last replied or reached out",
    "days_to_next_touch": "days until the tier's next scheduled check-in (negative: overdue)",
    "open_outreach": "outbound emails and calls awaiting a reply from the customer",
    "open_outreach_days": "whole days the oldest outreach awaiting a reply has waited",
    "median_reply_hours": "median hours the customer took to reply (engagement window, 90d)",
    "replies_on_time_ratio": "share of the customer's replies within 48 h (engagement window)",
    "qbrs_held_365d": "QBRs held in the last 365 days",
    "days_to_qbr_due": "days until the tier's next QBR is due (negative: overdue)",
    "days_to_booked_qbr": "days until the booked QBR (None when none is booked)",
    "milestones_open": "success-plan milestones not done",
    "milestones_overdue": "success-plan milestones past their due date and not done",
    "days_to_first_value": "days from contract start to first value (None until reached)",
}
