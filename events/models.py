"""The wire contract (CONTRACT.md) as pydantic v2 models.

Inbound models are strict about what producers must get right (ids, zones, ranges) and
lenient about extras: unknown fields are accepted and ignored so producers can evolve.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    model_validator,
)

SCHEMA_VERSION = 1

Segment = Literal["enterprise", "mid_market", "smb"]
AccountStatus = Literal["active", "churned"]
TicketStatus = Literal["opened", "updated", "escalated", "resolved", "closed"]
TicketPriority = Literal["low", "normal", "high", "urgent"]
TaskPriority = Literal["low", "medium", "high", "critical"]
TaskAction = Literal["opened", "updated", "resolved"]
Band = Literal["champion", "healthy", "at_risk", "critical"]

# Identifiers are bounded so a runaway producer cannot bloat per-account state.
Identifier = Annotated[str, Field(min_length=1, max_length=200)]

_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# Event time drives every window and the time-driven clock: one event stamped next year
# would age every account on its partition by a year. Wall time is used here only as a
# sanity bound, so replays of past events are unaffected.
MAX_FUTURE = timedelta(days=1)


def _to_utc(value: datetime) -> datetime:
    # Normalise every zone to UTC so state keys (day buckets) do not depend on the
    # producer's offset.
    value = value.astimezone(UTC)
    if value < _EARLIEST:
        raise ValueError("timestamp is before 2000-01-01; check the producer's clock")
    if value > datetime.now(UTC) + MAX_FUTURE:
        raise ValueError(
            "timestamp is more than 24 hours in the future; check the producer's clock"
        )
    return value


def _no_epoch_number(value: Any) -> Any:
    # Pydantic would read 1700000000 as Unix seconds and 1700000000000 as milliseconds,
    # guessing by magnitude. The contract says RFC 3339 with a zone; refuse the guess.
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(
            "timestamp must be an RFC 3339 string with a zone such as "
            "2026-11-20T10:00:00Z, not a number"
        )
    return value


def _no_number_date(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("date must be a string such as 2026-11-20, not a number")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_no_epoch_number), AfterValidator(_to_utc)]
DateField = Annotated[date, BeforeValidator(_no_number_date)]


class InboundEvent(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    # The event type, for dispatch. A class attribute rather than a field, so that a
    # producer's own "kind" field is ignored like any other unknown field (CONTRACT.md).
    kind: ClassVar[str]

    event_id: Identifier
    account_id: Identifier
    occurred_at: Timestamp


class UsageEvent(InboundEvent):
    kind: ClassVar[Literal["usage"]] = "usage"
    user_id: Identifier
    feature: Identifier
    quantity: StrictInt = Field(default=1, ge=1, le=1_000_000)


class TicketEvent(InboundEvent):
    kind: ClassVar[Literal["ticket"]] = "ticket"
    ticket_id: Identifier
    status: TicketStatus
    priority: TicketPriority = "normal"
    subject: str | None = Field(default=None, max_length=2000)


class NpsEvent(InboundEvent):
    kind: ClassVar[Literal["nps"]] = "nps"
    score: StrictInt = Field(ge=0, le=10)
    respondent_id: str | None = Field(default=None, max_length=200)
    comment: str | None = Field(default=None, max_length=10_000)


class AccountEvent(InboundEvent):
    kind: ClassVar[Literal["account"]] = "account"
    name: str | None = Field(default=None, max_length=500)
    segment: Segment | None = None
    licensed_seats: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    arr: float | None = Field(default=None, ge=0, le=1e12)
    csm_id: str | None = Field(default=None, max_length=200)
    champion_user_id: str | None = Field(default=None, max_length=200)
    contract_start: DateField | None = None
    renewal_date: DateField | None = None
    # `churned`: the account gets no more tasks and its open tasks resolve (CONTRACT.md);
    # `active` again (a win-back) restores the normal rules.
    status: AccountStatus | None = None

    def present_facts(self) -> dict[str, Any]:
        """The facts this event sets; absent fields keep their previous value."""
        return {
            name: getattr(self, name)
            for name in ACCOUNT_FACT_FIELDS
            if name in self.model_fields_set
        }


ActivityKind = Literal["email", "call", "meeting", "qbr", "note"]
ActivityDirection = Literal["outbound", "inbound"]
MilestoneStatus = Literal["planned", "in_progress", "done", "blocked"]

# How far ahead a touch may be booked (`scheduled_for`): beyond the 24 hours any other
# timestamp may lead the wall clock, but bounded so a typo cannot book a QBR in 2999.
MAX_BOOKING_AHEAD = timedelta(days=400)


def _to_utc_booking(value: datetime) -> datetime:
    value = value.astimezone(UTC)
    if value < _EARLIEST:
        raise ValueError("timestamp is before 2000-01-01; check the producer's clock")
    if value > datetime.now(UTC) + MAX_BOOKING_AHEAD:
        raise ValueError("timestamp is more than 400 days in the future")
    return value


BookingTimestamp = Annotated[
    AwareDatetime, BeforeValidator(_no_epoch_number), AfterValidator(_to_utc_booking)
]


class ActivityEvent(InboundEvent):
    """A CSM touchpoint logged in the CRM (CONTRACT.md): an email, call, meeting or QBR from the
    CSM (`outbound`) or from the customer (`inbound`, maybe `in_reply_to` an outreach)."""

    # The contract's field is `kind`; on the model it is `activity_kind` because `kind` is the
    # event type's class attribute (dispatch) on every inbound model. Build one in Python with
    # `ActivityEvent(kind="email", ...)` as well.
    kind: ClassVar[Literal["activity"]] = "activity"
    activity_id: Identifier
    activity_kind: ActivityKind = Field(alias="kind")
    direction: ActivityDirection
    csm_id: Identifier
    contact_id: str | None = Field(default=None, max_length=200)
    in_reply_to: str | None = Field(default=None, max_length=200)
    # An addition to the contract (optional): the time a touch is booked for. A `qbr` whose
    # `scheduled_for` is later than `occurred_at` books the QBR (qbr_due is satisfied); any
    # other booking is not a touch yet and is ignored.
    scheduled_for: BookingTimestamp | None = None

    @property
    def is_booking(self) -> bool:
        return self.scheduled_for is not None and self.scheduled_for > self.occurred_at


class MilestoneEvent(InboundEvent):
    """One milestone of a joint success plan (CONTRACT.md); the latest event per milestone
    (by `occurred_at`) wins."""

    kind: ClassVar[Literal["milestone"]] = "milestone"
    plan_id: Identifier
    milestone_id: Identifier
    title: str = Field(min_length=1, max_length=500)
    phase: Identifier
    owner: str | None = Field(default=None, max_length=200)
    due_date: DateField
    status: MilestoneStatus


FeedbackAction = Literal["acknowledged", "snoozed", "done", "dismissed"]
DismissReason = Literal["not_useful", "already_known", "wrong_owner", "other"]


class TaskFeedback(InboundEvent):
    """What a person did with a task (from the board, Slack or a CRM; CONTRACT.md)."""

    kind: ClassVar[Literal["feedback"]] = "feedback"
    task_id: Identifier
    playbook: Identifier
    action: FeedbackAction
    until: Timestamp | None = None
    reason: DismissReason | None = None
    by: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=10_000)

    @model_validator(mode="after")
    def _action_needs(self) -> TaskFeedback:
        if self.action == "snoozed" and self.until is None:
            raise ValueError("a snoozed feedback needs `until` (the time the snooze ends)")
        if self.action == "dismissed" and self.reason is None:
            raise ValueError(
                "a dismissed feedback needs `reason`: not_useful, already_known, wrong_owner "
                "or other"
            )
        return self


ACCOUNT_FACT_FIELDS = (
    "name",
    "segment",
    "licensed_seats",
    "arr",
    "csm_id",
    "champion_user_id",
    "contract_start",
    "renewal_date",
    "status",
)

AnyInbound = (
    UsageEvent
    | TicketEvent
    | NpsEvent
    | AccountEvent
    | TaskFeedback
    | ActivityEvent
    | MilestoneEvent
)

# Topic (without prefix) -> model. `produce` uses the `type` field of a line instead.
INBOUND_TOPICS: dict[str, type[InboundEvent]] = {
    "usage-events": UsageEvent,
    "ticket-events": TicketEvent,
    "nps-events": NpsEvent,
    "account-events": AccountEvent,
    "task-feedback": TaskFeedback,
    "activity-events": ActivityEvent,
    "milestone-events": MilestoneEvent,
}
EVENT_TYPES: dict[str, str] = {
    "usage": "usage-events",
    "ticket": "ticket-events",
    "nps": "nps-events",
    "account": "account-events",
    "feedback": "task-feedback",
    "activity": "activity-events",
    "milestone": "milestone-events",
}
OUTPUT_TOPICS = ("playbook-tasks", "health-scores", "dead-letters", "ops-metrics")


class OutboundModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json().encode("utf-8")


class HealthSnapshot(OutboundModel):
    score: float
    band: Band


class PlaybookTask(OutboundModel):
    schema_version: int = SCHEMA_VERSION
    task_id: str
    action: TaskAction
    account_id: str
    playbook: str
    title: str
    priority: TaskPriority
    owner_role: str
    owner_id: str | None
    due_at: datetime
    created_at: datetime
    reason: str
    evidence: dict[str, Any]
    steps: list[str]
    health: HealthSnapshot | None
    # Beyond the contract's minimum: which episode of this playbook this is and the
    # event time at which this action happened (created_at stays the opening time).
    episode: int = 1
    occurred_at: datetime | None = None
    previous_priority: TaskPriority | None = None


class HealthComponent(OutboundModel):
    raw: float | int | None
    points: int
    weight: float
    contribution: float
    detail: str = ""


class HealthScore(OutboundModel):
    schema_version: int = SCHEMA_VERSION
    account_id: str
    score: float = Field(ge=20, le=100)
    band: Band
    components: dict[str, HealthComponent]
    previous_score: float | None
    previous_band: Band | None = None
    computed_at: datetime
    components_missing: list[str] = []


class DeadLetter(OutboundModel):
    schema_version: int = SCHEMA_VERSION
    source_topic: str
    partition: int | None
    offset: int | None
    error: str
    payload: str
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_size: int
    payload_truncated: bool = False
    received_at: datetime
