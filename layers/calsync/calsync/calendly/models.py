"""Pydantic models of Calendly API v2 resources (what ``calsync.calendly.client`` returns).

Calendly adds fields without notice, so every model ignores unknown fields and is frozen.
Anything Calendly may leave out (older accounts, older API versions, plan-gated features)
is optional. The bodies that are not resources (a subscription request, the token response,
error bodies) are in ``calsync.calendly.bodies``. This module does no I/O and does not import
httpx.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is UTC:  # already UTC (e.g. a time calsync made): nothing to convert
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00: a time before year 1 in UTC
        raise ValueError("datetime is out of range in UTC") from None


# --- shared constrained types (the one place they are declared) -------------------------------

UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Uri = Annotated[str, Field(min_length=1, max_length=2048)]
EventName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:-]+$")]


class WebhookEvent(StrEnum):
    """The webhook events calsync models and subscribes to. Calendly sends others too
    (``event_type.*``, ``meeting_recap.*``…): those are kept whole, never dropped."""

    INVITEE_CREATED = "invitee.created"
    INVITEE_CANCELED = "invitee.canceled"
    INVITEE_NO_SHOW_CREATED = "invitee_no_show.created"
    INVITEE_NO_SHOW_DELETED = "invitee_no_show.deleted"
    ROUTING_FORM_SUBMISSION_CREATED = "routing_form_submission.created"


class CalendlyModel(BaseModel):
    """Base of every Calendly model: unknown fields ignored, instances immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class CalendlyValue(CalendlyModel):
    """An open-ended value calsync keeps as Calendly sent it (location, tracking, payment…):
    typed where known, unknown fields kept, so storing it loses nothing."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    def as_stored(self) -> dict[str, Any]:
        """Exactly the fields Calendly sent, as JSON values."""
        return self.model_dump(mode="json", exclude_unset=True)


# --- envelopes --------------------------------------------------------------------------------


class Pagination(CalendlyModel):
    """``pagination`` of a list response. Pre-2022 responses carry only ``count`` and ``next_page``."""

    count: int | None = None
    next_page: str | None = None
    previous_page: str | None = None
    next_page_token: str | None = None
    previous_page_token: str | None = None


class Page[T](CalendlyModel):
    """A list response: ``{"collection": [...], "pagination": {...}}``."""

    collection: list[T] = Field(default_factory=list)
    pagination: Pagination = Field(default_factory=Pagination)


class Resource[T](CalendlyModel):
    """A single-resource response: ``{"resource": {...}}``."""

    resource: T


# --- users and organizations ------------------------------------------------------------------


class User(CalendlyModel):
    """``GET /users/me`` and ``GET /users/{uuid}``."""

    uri: Uri
    current_organization: Uri
    name: str | None = None
    slug: str | None = None
    email: str | None = None
    scheduling_url: str | None = None
    timezone: str | None = None
    avatar_url: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    resource_type: str | None = None


class MembershipUser(CalendlyModel):
    """The user embedded in an organization membership."""

    uri: Uri
    name: str | None = None
    slug: str | None = None
    email: str | None = None
    scheduling_url: str | None = None
    timezone: str | None = None
    avatar_url: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class OrganizationMembership(CalendlyModel):
    """An item of ``GET /organization_memberships``."""

    uri: Uri
    organization: Uri
    role: str | None = None
    user: MembershipUser | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


# --- event types ------------------------------------------------------------------------------


class EventTypeProfile(CalendlyModel):
    type: str | None = None
    name: str | None = None
    owner: Uri | None = None


class CustomQuestion(CalendlyModel):
    name: str | None = None
    type: str | None = None
    position: int | None = None
    enabled: bool | None = None
    required: bool | None = None
    answer_choices: list[str] = Field(default_factory=list)
    include_other: bool | None = None


class EventType(CalendlyModel):
    """An item of ``GET /event_types``."""

    uri: Uri
    name: str | None = None
    active: bool | None = None
    booking_method: str | None = None
    slug: str | None = None
    scheduling_url: str | None = None
    duration: int | None = None
    kind: str | None = None
    kind_description: str | None = None
    pooling_type: str | None = None
    type: str | None = None
    color: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    deleted_at: UtcDatetime | None = None
    internal_note: str | None = None
    description_plain: str | None = None
    description_html: str | None = None
    profile: EventTypeProfile | None = None
    secret: bool | None = None
    admin_managed: bool | None = None
    custom_questions: list[CustomQuestion] = Field(default_factory=list)


# --- scheduled events -------------------------------------------------------------------------


class Location(CalendlyValue):
    """Where a meeting happens. The shape depends on ``type`` (physical, zoom, google_conference…)."""

    type: str | None = None
    location: str | None = None
    join_url: str | None = None
    status: str | None = None
    additional_info: str | None = None
    data: dict[str, Any] | None = None


class InviteesCounter(CalendlyModel):
    total: int | None = None
    active: int | None = None
    limit: int | None = None


class EventMembership(CalendlyValue):
    user: Uri
    user_email: str | None = None
    user_name: str | None = None


class EventGuest(CalendlyModel):
    email: str
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class CalendarEvent(CalendlyModel):
    kind: str | None = None
    external_id: str | None = None


class Cancellation(CalendlyModel):
    """Who canceled and why; also the body of ``POST /scheduled_events/{uuid}/cancellation``."""

    canceled_by: str | None = None
    reason: str | None = None
    canceler_type: str | None = None
    created_at: UtcDatetime | None = None


class ScheduledEvent(CalendlyModel):
    """``GET /scheduled_events/{uuid}`` and the items of ``GET /scheduled_events``."""

    uri: Uri
    status: str
    start_time: UtcDatetime
    end_time: UtcDatetime
    name: str | None = None
    booking_method: str | None = None
    event_type: Uri | None = None
    location: Location | None = None
    invitees_counter: InviteesCounter | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    event_memberships: list[EventMembership] = Field(default_factory=list)
    event_guests: list[EventGuest] = Field(default_factory=list)
    cancellation: Cancellation | None = None
    calendar_event: CalendarEvent | None = None
    meeting_notes_plain: str | None = None
    meeting_notes_html: str | None = None


# --- invitees ---------------------------------------------------------------------------------


class QuestionAndAnswer(CalendlyModel):
    question: str | None = None
    answer: str | None = None
    position: int | None = None


class Tracking(CalendlyValue):
    utm_campaign: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    salesforce_uuid: str | None = None


class Payment(CalendlyValue):
    external_id: str | None = None
    provider: str | None = None
    amount: float | None = None
    currency: str | None = None
    terms: str | None = None
    successful: bool | None = None


class NoShowMark(CalendlyModel):
    """The ``no_show`` of an invitee: a link to the no-show resource."""

    uri: Uri
    created_at: UtcDatetime | None = None


class Reconfirmation(CalendlyModel):
    created_at: UtcDatetime | None = None
    confirmed_at: UtcDatetime | None = None


class Invitee(CalendlyModel):
    """``GET /scheduled_events/{uuid}/invitees[/{uuid}]`` (API v2 shape).

    A reschedule shows as the old invitee ``status="canceled"``, ``rescheduled=True`` with
    ``new_invitee`` set, and the new invitee with ``old_invitee`` set.
    """

    uri: Uri
    event: Uri
    status: str
    email: str | None = None
    name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    text_reminder_number: str | None = None
    rescheduled: bool | None = None
    old_invitee: Uri | None = None
    new_invitee: Uri | None = None
    cancel_url: str | None = None
    reschedule_url: str | None = None
    routing_form_submission: Uri | None = None
    cancellation: Cancellation | None = None
    no_show: NoShowMark | None = None
    questions_and_answers: list[QuestionAndAnswer] = Field(default_factory=list)
    tracking: Tracking | None = None
    payment: Payment | None = None
    reconfirmation: Reconfirmation | None = None
    scheduling_method: str | None = None
    invitee_scheduled_by: Uri | None = None


class InviteeNoShow(CalendlyModel):
    """``GET /invitee_no_shows/{uuid}`` (and the 201 of ``POST /invitee_no_shows``)."""

    uri: Uri
    invitee: Uri
    created_at: UtcDatetime | None = None


# --- routing forms ----------------------------------------------------------------------------


class RoutingFormAnswer(CalendlyValue):
    question_uuid: str | None = None
    question: str | None = None
    answer: str | None = None


class RoutingFormResult(CalendlyValue):
    """``type`` is event_type, custom_message or external_url; ``value`` a URI, URL or message object."""

    type: str | None = None
    value: str | dict[str, Any] | None = None


class RoutingForm(CalendlyModel):
    """``GET /routing_forms`` (only what the reconciler reads)."""

    uri: Uri
    name: str | None = None
    status: str | None = None
    organization: Uri | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class RoutingFormSubmission(CalendlyModel):
    """``GET /routing_form_submissions/{uuid}``."""

    uri: Uri
    routing_form: Uri | None = None
    questions_and_answers: list[RoutingFormAnswer] = Field(default_factory=list)
    tracking: Tracking | None = None
    result: RoutingFormResult | None = None
    submitter: Uri | None = None
    submitter_type: str | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


# --- webhook subscriptions --------------------------------------------------------------------


class WebhookSubscription(CalendlyModel):
    """``GET /webhook_subscriptions[/{uuid}]`` and the 201 of ``POST /webhook_subscriptions``.

    The response never echoes the ``signing_key``.
    """

    uri: Uri
    callback_url: str
    events: list[str]
    scope: str
    organization: Uri
    state: str | None = None
    user: Uri | None = None
    group: Uri | None = None
    creator: Uri | None = None
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None
    retry_started_at: UtcDatetime | None = None
