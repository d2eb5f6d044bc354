"""Pydantic models of Calendly webhook deliveries: one home for each.

Calendly adds fields without notice, so every model ignores unknown fields; optional ones
may be missing (2020-era deliveries have no ``created_by`` and no ``scheduled_event``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter

INVITEE_CREATED = "invitee.created"
INVITEE_CANCELED = "invitee.canceled"
NO_SHOW_CREATED = "invitee_no_show.created"
NO_SHOW_DELETED = "invitee_no_show.deleted"
ROUTING_FORM_SUBMISSION_CREATED = "routing_form_submission.created"
KNOWN_EVENTS = frozenset(
    {INVITEE_CREATED, INVITEE_CANCELED, NO_SHOW_CREATED, NO_SHOW_DELETED, ROUTING_FORM_SUBMISSION_CREATED}
)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Uri = Annotated[str, Field(min_length=1, max_length=2048)]
EventName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Envelope(_Lenient):
    """The shape every delivery shares; enough to verify, route and keep any event."""

    event: EventName
    created_at: UtcDatetime
    created_by: Uri | None = None
    payload: dict[str, Any]


class Cancellation(_Lenient):
    canceled_by: str | None = None
    reason: str | None = None
    canceler_type: str | None = None
    created_at: UtcDatetime | None = None


class NoShowMark(_Lenient):
    uri: Uri
    created_at: UtcDatetime | None = None


class ScheduledEvent(_Lenient):
    uri: Uri
    name: str | None = None
    status: str | None = None
    start_time: UtcDatetime | None = None
    end_time: UtcDatetime | None = None
    event_type: Uri | None = None
    location: dict[str, Any] | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    event_memberships: list[dict[str, Any]] = Field(default_factory=list)


class QuestionAnswer(_Lenient):
    question: str | None = None
    answer: str | None = None
    position: int | None = None


class InviteePayload(_Lenient):
    uri: Uri
    status: str
    updated_at: UtcDatetime
    email: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    event: Uri | None = None
    created_at: UtcDatetime | None = None
    rescheduled: bool | None = False
    old_invitee: Uri | None = None
    new_invitee: Uri | None = None
    cancellation: Cancellation | None = None
    no_show: NoShowMark | None = None
    questions_and_answers: list[QuestionAnswer] = Field(default_factory=list)
    tracking: dict[str, Any] | None = None
    payment: dict[str, Any] | None = None
    routing_form_submission: Uri | None = None
    scheduled_event: ScheduledEvent | None = None


class NoShowResource(_Lenient):
    """The bare no-show resource (``/invitee_no_shows/{uuid}``), should a delivery carry it."""

    uri: Uri
    invitee: Uri
    created_at: UtcDatetime


class RoutingFormSubmission(_Lenient):
    uri: Uri
    routing_form: Uri | None = None
    questions_and_answers: list[dict[str, Any]] = Field(default_factory=list)
    tracking: dict[str, Any] | None = None
    result: dict[str, Any] | None = None
    submitter: Uri | None = None
    submitter_type: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class InviteeEnvelope(Envelope):
    event: Literal["invitee.created", "invitee.canceled"]
    payload: InviteePayload  # type: ignore[assignment]


class NoShowEnvelope(Envelope):
    event: Literal["invitee_no_show.created", "invitee_no_show.deleted"]
    payload: Annotated[InviteePayload | NoShowResource, Field(union_mode="left_to_right")]  # type: ignore[assignment]


class RoutingFormEnvelope(Envelope):
    event: Literal["routing_form_submission.created"]
    payload: RoutingFormSubmission  # type: ignore[assignment]


class OtherEnvelope(Envelope):
    """Any event calsync has no model for yet: kept whole, never dropped."""


def _kind(value: Any) -> str:
    event = value.get("event") if isinstance(value, dict) else getattr(value, "event", None)
    if event in (INVITEE_CREATED, INVITEE_CANCELED):
        return "invitee"
    if event in (NO_SHOW_CREATED, NO_SHOW_DELETED):
        return "no_show"
    if event == ROUTING_FORM_SUBMISSION_CREATED:
        return "routing_form"
    return "other"


AnyEnvelope = Annotated[
    Annotated[InviteeEnvelope, Tag("invitee")]
    | Annotated[NoShowEnvelope, Tag("no_show")]
    | Annotated[RoutingFormEnvelope, Tag("routing_form")]
    | Annotated[OtherEnvelope, Tag("other")],
    Discriminator(_kind),
]
_typed = TypeAdapter[InviteeEnvelope | NoShowEnvelope | RoutingFormEnvelope | OtherEnvelope](AnyEnvelope)


def parse_typed(raw_body: str | bytes) -> InviteeEnvelope | NoShowEnvelope | RoutingFormEnvelope | OtherEnvelope:
    """Validate a verified body against its event's model (a discriminated union on
    ``event``); raises ``pydantic.ValidationError``."""
    return _typed.validate_json(raw_body)


class Delivery(BaseModel):
    """What the receiver enqueues: the raw body exactly as signed, plus where it came from."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    received_at: UtcDatetime
    body_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    event: EventName
    body: str
