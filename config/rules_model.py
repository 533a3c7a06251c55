"""The sections of the rules file as pydantic models: evaluation, dedup, retention, the health
model, the playbook kinds with their typed params, playbooks and per-segment overrides. The
root document, `Rules`, is in config/rules.py."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from config.durations import Duration
from config.rules_base import (
    COMPONENTS,
    CONDITION_KIND,
    Priority,
    Ratio,
    SegmentName,
    _Strict,
)


class EvaluationRules(_Strict):
    interval: Duration = timedelta(hours=1)
    catchup_full_boundaries: int = Field(default=48, ge=1, le=10_000)
    catchup_max_days: int = Field(default=400, ge=1, le=10_000)


class DedupRules(_Strict):
    # Usage event ids: idempotent but for volume (see workers/core/dedup.py).
    max_event_ids: int = Field(default=2000, ge=1, le=1_000_000)
    usage_window: Duration = timedelta(days=2)
    # Ticket, NPS and account-fact event ids: not idempotent, so remembered longer.
    max_other_event_ids: int = Field(default=1000, ge=1, le=1_000_000)
    other_window: Duration = timedelta(days=180)


class RetentionRules(_Strict):
    usage_days: int = Field(default=62, ge=31, le=400)
    user_days: int = Field(default=31, ge=31, le=400)
    user_last_active_days: int = Field(default=62, ge=15, le=400)
    nps_days: int = Field(default=180, ge=1, le=1000)
    escalation_days: int = Field(default=30, ge=1, le=400)
    max_nps_responses: int = Field(default=100, ge=1, le=10_000)
    max_closed_tickets: int = Field(default=500, ge=1, le=100_000)
    # Engagement (activity-events, milestone-events): what an account keeps is capped.
    max_open_outreach: int = Field(default=20, ge=1, le=1000)
    max_replies: int = Field(default=20, ge=1, le=1000)
    max_qbrs: int = Field(default=8, ge=1, le=100)
    max_milestones: int = Field(default=100, ge=1, le=10_000)


ActivityKindName = Literal["email", "call", "meeting", "qbr", "note"]


class BookBaselineRules(_Strict):
    """A drop every account shares is not one account's alarm (workers/core/book.py)."""

    enabled: bool = True
    # Accounts active on a weekday before the book's rhythm says anything (a partition of a
    # small book is judged account by account).
    min_accounts: int = Field(default=20, ge=1)
    # A day on which the book's users are under this share of the same weekday's usual is a
    # day off for everyone: champion silence does not count it.
    quiet_day_below: Ratio = 0.5
    # A week in which the book's users are under this share of its usual week is a week off
    # for everyone: usage is judged on the last 7 days before it (up to 21 days back), and
    # usage_drop does not compare across it.
    off_week_below: Ratio = 0.7
    # Peers (a slump a group of accounts shares): an account of `peer_min_users` usual weekly
    # users or more is in a dip when its 7-day users are under `peer_dip_below` of its usual
    # (the mean of its 7-day windows 3 and 4 weeks before). When `cohort_share` of the
    # partition's accounts were in a dip over the last week, usage_drop asks for its
    # `cohort_drop_at_least`. 0: off.
    peer_dip_below: Ratio = 0.8
    peer_min_users: int = Field(default=5, ge=1)
    cohort_share: Ratio = 0.15


class EngagementRules(_Strict):
    """Scheduled touchpoints of a tier (DOMAIN.md, Engagement): override per segment."""

    # A check-in is an outbound activity of one of these kinds; the next is due this long
    # after the last one (a date: due on the day the period ends).
    checkin_every: Duration = timedelta(days=30)
    checkin_kinds: list[ActivityKindName] = Field(
        default_factory=lambda: ["meeting", "call", "email", "qbr"], min_length=1
    )
    # QBR cadence; null: the tier holds no QBRs.
    qbr_every: Duration | None = timedelta(days=180)
    # A booked QBR (a `qbr` activity with `scheduled_for` ahead) counts until this many days
    # after the date it was booked for; then, not held, it no longer counts as booked.
    booking_grace_days: int = Field(default=2, ge=0, le=60)
    # Outbound activities that await a reply from the customer.
    outreach_kinds: list[ActivityKindName] = Field(
        default_factory=lambda: ["email", "call"], min_length=1
    )


class Points(_Strict):
    good: int = 5
    at_risk: int = 3
    critical: int = 1


class RatioBands(_Strict):
    good_at_least: Ratio
    at_risk_at_least: Ratio
    window: Duration = timedelta(days=30)


class EngagementBands(_Strict):
    # With activity data (activity-events): the customer's responsiveness.
    responsive_within_days: int = Field(default=2, ge=0, le=365)  # good: answered within
    unresponsive_after_days: int = Field(default=7, ge=1, le=365)  # critical: unanswered
    on_time_share_at_least: Ratio = 0.75  # replies answered within; below: inconsistent
    window: Duration = timedelta(days=90)  # replies considered
    qbr_overdue_is_at_risk: bool = True  # a QBR past due and not booked (QBR attendance)
    # Without activity data: the champion-activity proxy (days since last active).
    good_at_most_days: int = Field(default=7, ge=0)
    at_risk_at_most_days: int = Field(default=18, ge=0)


class SatisfactionBands(_Strict):
    good_at_least: int = Field(default=8, ge=0, le=10)
    at_risk_at_least: int = Field(default=6, ge=0, le=10)
    window: Duration = timedelta(days=180)


class SupportBands(_Strict):
    window: Duration = timedelta(days=30)
    good_at_most_open: int = Field(default=2, ge=0)
    at_risk_at_most_open: int = Field(default=5, ge=0)
    escalation_is_critical: bool = True


class Bands(_Strict):
    champion: float = 85
    healthy: float = 70
    at_risk: float = 50


class HealthRules(_Strict):
    core_features: list[str] = Field(
        default_factory=lambda: [
            "dashboards",
            "reports",
            "alerts",
            "integrations",
            "automation",
            "exports",
        ],
        min_length=1,
    )
    weights: dict[Literal["usage", "adoption", "engagement", "satisfaction", "support"], float] = (
        Field(
            default_factory=lambda: {
                "usage": 0.30,
                "adoption": 0.20,
                "engagement": 0.20,
                "satisfaction": 0.15,
                "support": 0.15,
            }
        )
    )
    points: Points = Points()
    usage: RatioBands = RatioBands(good_at_least=0.5, at_risk_at_least=0.25)
    adoption: RatioBands = RatioBands(good_at_least=0.7, at_risk_at_least=0.4)
    engagement: EngagementBands = EngagementBands()
    satisfaction: SatisfactionBands = SatisfactionBands()
    support: SupportBands = SupportBands()
    bands: Bands = Bands()
    # Whole completed days of observed history (since the account's first event) before the
    # usage and adoption components count; until then they are "no data" (weight shared).
    warmup_days: int = Field(default=7, ge=0, le=365)

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_one(cls, weights: dict[str, float]) -> dict[str, float]:
        missing = [c for c in COMPONENTS if c not in weights]
        if missing:
            raise ValueError(
                f"missing component(s) {', '.join(missing)}; valid: weights for all of "
                f"{', '.join(COMPONENTS)} (0 disables one)"
            )
        total = sum(weights.values())
        if any(w < 0 for w in weights.values()) or not math.isclose(total, 1.0, abs_tol=1e-6):
            raise ValueError(
                f"weights sum to {total:g}; valid: non-negative weights summing to 1 "
                "(e.g. usage 0.30, adoption 0.20, engagement 0.20, satisfaction 0.15, "
                "support 0.15)"
            )
        return weights


# Kind-specific thresholds. Validated after the main model so the message can name the kind.
class NpsDetractorParams(_Strict):
    max_score: int = Field(default=6, ge=0, le=10)
    # A mild detractor (above this score, up to max_score) opens a task only with a second
    # sign: the health score below `mild_needs_health_below`, another detractor from the
    # account within `mild_repeat_within`, or the champion answering.
    mild_above_score: int = Field(default=4, ge=-1, le=10)
    mild_needs_health_below: float = Field(default=70, ge=20, le=101)
    mild_repeat_within: Duration = timedelta(days=90)
    # ... or 7-day active users this share below 4 weeks earlier (0 disables).
    mild_usage_decline: Ratio = 0.05
    resolve_min_score: int = Field(default=7, ge=0, le=10)
    resolve_after: Duration = timedelta(days=30)


class UsageDropParams(_Strict):
    drop_at_least: Ratio = 0.30
    min_prev_active_users: int = Field(default=10, ge=0)
    # Guards (README, "Alert quality"): the users lost must be at least z x sqrt(before +
    # after) (a difference of two counts, not one person's week off); the drop must hold in
    # the 7-day windows ending on each of the last `confirm_days` days (a one-week holiday
    # does not); 0 / 1 disable them.
    significance_z: float = Field(default=2.0, ge=0, le=10)
    confirm_days: int = Field(default=3, ge=1, le=5)
    # A slow decline: the same drop against the 7 days `decline_weeks` weeks earlier, no
    # week in between above that level (0 disables).
    decline_weeks: int = Field(default=4, ge=0, le=4)
    # The significance a decline needs: a month of weeks none above the start is evidence
    # of its own.
    decline_significance_z: float = Field(default=1.0, ge=0, le=10)
    # A month-long decline also counts on smaller accounts (the week-over-week guard's 10).
    decline_min_prev_active_users: int = Field(default=5, ge=0)
    # Gradual, not one step: the week before the last already this much below the start.
    decline_prior_week_below: Ratio = 0.10
    # The same decline test against the 7 days this many weeks earlier, for churn slower
    # than a month (0 disables). At most 7: the account keeps 57 days of exact 7-day counts
    # (workers/core/usage.py), and 7 weeks plus `confirm_days` of windows must fit in them.
    long_decline_weeks: int = Field(default=7, ge=0, le=7)
    # ... and still falling: the last 7 days this much below the 7 days 3 weeks earlier (a
    # seasonal slump falls, then holds; a leaving customer keeps falling). 0 disables.
    long_decline_still_falling: Ratio = 0.10
    # An account too small for the z test (a few users losing one every few weeks): the same
    # 30% over `long_decline_weeks`, from this many users, when the weekly counts from the
    # start to now fall steadily: Mann-Kendall trend score at or below -trend_significance_z
    # (0 disables; it reads `long_decline_weeks`' horizon, so it is off with that too).
    trend_significance_z: float = Field(default=2.5, ge=0, le=10)
    trend_min_prev_active_users: int = Field(default=3, ge=1)
    # A step down held this many weeks fires at the decline's z and users; 0 switches it off.
    step_weeks: int = Field(default=2, ge=0)
    # While many accounts of the partition dip together (book_baseline.cohort_share), a drop
    # must be at least this deep: a seasonal slump is 20-35%, a leaving customer more.
    cohort_drop_at_least: Ratio = 0.4
    # ... and, above 0, significant at this z (every route: week over week, step, declines),
    # with no steady-fall route for accounts too small for a z test. 0: the routes' own z.
    cohort_significance_z: float = Field(default=0.0, ge=0, le=10)
    resolve_within: Ratio = 0.15


class SupportEscalationParams(_Strict):
    on_escalated: bool = True
    on_urgent_opened: bool = True


class HealthRecoveryParams(_Strict):
    resolve_at_least: float = Field(default=70, ge=20, le=100)
    resolve_weeks: float = Field(default=2, ge=0, le=52)
    # Open only once the account has stayed in the band this many days (health_at_risk):
    # a score that dips under the line for a few days and comes back is no trend.
    confirm_days: float = Field(default=0, ge=0, le=60)


class ExpansionParams(_Strict):
    min_seat_ratio: float = Field(default=0.9, ge=0)
    # Below this many seats, 90% use is a few people and says nothing about demand: a small
    # account also needs more active users than seats, or growth (below).
    min_seats: int = Field(default=30, ge=0)
    # Growth of a small account: 7-day active users up this share on the higher of the weeks
    # 3 and 4 weeks before, and by at least `small_growth_min_users` people.
    small_growth_at_least: float = Field(default=0.20, ge=0)
    small_growth_min_users: int = Field(default=2, ge=0)
    # ... or the same growth on the higher of the weeks this many and one more weeks before
    # (slow growth, a person every few weeks; 0 disables). At most 7: the account keeps 57
    # days of exact 7-day counts (workers/core/usage.py).
    small_slow_growth_weeks: int = Field(default=7, ge=0, le=7)
    # The seat ratio must also have been reached in the 7 days before (not one busy week).
    confirm_weeks: int = Field(default=2, ge=1, le=4)
    min_health: float = Field(default=70, ge=20, le=100)
    resolve_below_ratio: float = Field(default=0.8, ge=0)
    resolve_below_health: float = Field(default=70, ge=20, le=100)


class RenewalParams(_Strict):
    milestones_days: list[int] = Field(default_factory=lambda: [90, 60, 30], min_length=1)
    milestone_priority: dict[int, Priority] = Field(default_factory=lambda: {30: "high"})


class ChampionSilentParams(_Strict):
    max_inactive_days: int = Field(default=18, ge=0)
    # Judged against the champion's own rhythm: also more than this factor x their longest
    # gap between active days in the 8 weeks before (an irregular champion, a past vacation).
    rhythm_factor: float = Field(default=1.5, ge=0, le=10)
    # From the start of a slump the account's peers share (book_baseline.cohort_share of the
    # partition's peer readings dipped in the 7 days ending on a day), the silence's days do
    # not count while the account is itself down since the champion was last seen: a
    # vertical's season break, not a champion walking away (triggers.check_champion_silent).
    peer_slump_days_off: bool = True


class LowAdoptionParams(_Strict):
    after_contract_days: int = Field(default=60, ge=0)
    # Whole completed days observed since the account's first event: a 30-day adoption window
    # with a few days of history in it understates adoption.
    min_observed_days: int = Field(default=14, ge=0, le=365)
    below_ratio: Ratio = 0.30
    resolve_at_least: Ratio = 0.40


class CadenceOverdueParams(_Strict):
    # Overdue once the tier's next check-in date (engagement.checkin_every after the last)
    # is more than this many days behind.
    grace_days: int = Field(default=0, ge=0, le=365)


class QbrDueParams(_Strict):
    due_within_days: int = Field(default=21, ge=0, le=365)


class CustomerUnresponsiveParams(_Strict):
    unanswered_days: int = Field(default=7, ge=1, le=365)


class MilestoneOverdueParams(_Strict):
    # Overdue once the due date is more than this many days behind and it is not done.
    grace_days: int = Field(default=0, ge=0, le=365)
    # Priority by the milestone's phase (the highest among overdue milestones is used);
    # phases not listed use the playbook priority.
    phase_priority: dict[str, Priority] = Field(default_factory=lambda: {"onboard": "high"})


class OnboardingStalledParams(_Strict):
    # No first value by this many days after contract start.
    target_days: int = Field(default=14, ge=1, le=365)
    # Only accounts seen from their onboarding on (first event at most `target_days` after
    # the contract start) and at most this many days into their contract: for an older
    # customer the first use of a feature is before our data.
    window_days: int = Field(default=90, ge=1, le=3650)
    # First value: the first use of these features (default: health.core_features) ...
    first_value_features: list[str] | None = Field(default=None, min_length=1)
    # ... at least this many of them (default: all).
    first_value_min_features: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _min_within_list(self) -> OnboardingStalledParams:
        features = self.first_value_features
        if features is not None and (self.first_value_min_features or 0) > len(features):
            raise ValueError(
                f"first_value_min_features is {self.first_value_min_features} but only "
                f"{len(features)} first_value_features are listed"
            )
        return self


class ConditionParams(_Strict):
    pass


KIND_PARAMS: dict[str, type[_Strict]] = {
    "nps_detractor": NpsDetractorParams,
    "usage_drop": UsageDropParams,
    "support_escalation": SupportEscalationParams,
    "health_at_risk": HealthRecoveryParams,
    "health_critical": HealthRecoveryParams,
    "expansion_signal": ExpansionParams,
    "renewal_approaching": RenewalParams,
    "champion_silent": ChampionSilentParams,
    "low_adoption": LowAdoptionParams,
    "cadence_overdue": CadenceOverdueParams,
    "qbr_due": QbrDueParams,
    "customer_unresponsive": CustomerUnresponsiveParams,
    "milestone_overdue": MilestoneOverdueParams,
    "onboarding_stalled": OnboardingStalledParams,
}
BUILTIN_KINDS = tuple(KIND_PARAMS)


class PlaybookRule(_Strict):
    kind: str | None = None
    enabled: bool = True
    title: str | None = None
    priority: Priority
    owner_role: str = Field(min_length=1)
    sla: Duration
    cooldown: Duration = timedelta(days=7)
    steps: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    condition: str | None = None
    resolve_when: str | None = None
    segments: list[SegmentName] | None = None


class SegmentOverride(_Strict):
    # Partial documents merged over the defaults, then validated as a whole.
    health: dict[str, Any] = Field(default_factory=dict)
    engagement: dict[str, Any] = Field(default_factory=dict)
    playbooks: dict[str, dict[str, Any]] = Field(default_factory=dict)


def playbook_kind(pid: str, rule: PlaybookRule) -> str | None:
    if rule.kind is not None:
        return rule.kind
    if rule.condition is not None:
        return CONDITION_KIND
    return pid if pid in KIND_PARAMS else None
