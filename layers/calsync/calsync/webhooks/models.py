"""Calendly webhook envelopes, built from Calendly's own resource models.

A delivery is ``{event, created_at, created_by, payload}``; the payload is the API resource
(``calsync.calendly.models``) with what webhooks do differently: an invitee's ``event`` may be
missing (2020-era deliveries, which also lack ``created_by`` and ``scheduled_event``), its
``updated_at`` is required (it orders deliveries), and it may embed its scheduled event.
Unknown fields are ignored; unknown events are kept whole (``OtherEnvelope``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, TypeAdapter

from calsync.calendly.models import (
    CalendlyModel,
    EventName,
    Invitee,
    InviteeNoShow,
    RoutingFormSubmission,
    ScheduledEvent,
    Uri,
    UtcDatetime,
    WebhookEvent,
)


class Envelope(CalendlyModel):
    """The shape every delivery shares; enough to verify, route and keep any event."""

    event: EventName
    created_at: UtcDatetime
    created_by: Uri | None = None
    payload: dict[str, Any]


class InviteePayload(Invitee):
    """An invitee as a webhook carries it."""

    event: Uri | None = None  # type: ignore[assignment]
    updated_at: UtcDatetime
    scheduled_event: ScheduledEvent | None = None


class InviteeEnvelope(Envelope):
    event: Literal[WebhookEvent.INVITEE_CREATED, WebhookEvent.INVITEE_CANCELED]
    payload: InviteePayload  # type: ignore[assignment]


class NoShowEnvelope(Envelope):
    """A no-show carries the whole invitee (Calendly's schema) or, should it, the bare resource."""

    event: Literal[WebhookEvent.INVITEE_NO_SHOW_CREATED, WebhookEvent.INVITEE_NO_SHOW_DELETED]
    payload: Annotated[InviteePayload | InviteeNoShow, Field(union_mode="left_to_right")]  # type: ignore[assignment]


class RoutingFormEnvelope(Envelope):
    event: Literal[WebhookEvent.ROUTING_FORM_SUBMISSION_CREATED]
    payload: RoutingFormSubmission  # type: ignore[assignment]


class OtherEnvelope(Envelope):
    """Any event calsync has no model for yet: kept whole, never dropped."""


TypedEnvelope = InviteeEnvelope | NoShowEnvelope | RoutingFormEnvelope | OtherEnvelope

_MODEL_TAG: dict[str, str] = {
    WebhookEvent.INVITEE_CREATED: "invitee",
    WebhookEvent.INVITEE_CANCELED: "invitee",
    WebhookEvent.INVITEE_NO_SHOW_CREATED: "no_show",
    WebhookEvent.INVITEE_NO_SHOW_DELETED: "no_show",
    WebhookEvent.ROUTING_FORM_SUBMISSION_CREATED: "routing_form",
}


def _tag(value: Any) -> str:
    event = value.get("event") if isinstance(value, dict) else getattr(value, "event", None)
    return _MODEL_TAG.get(event, "other") if isinstance(event, str) else "other"


AnyEnvelope = Annotated[
    Annotated[InviteeEnvelope, Tag("invitee")]
    | Annotated[NoShowEnvelope, Tag("no_show")]
    | Annotated[RoutingFormEnvelope, Tag("routing_form")]
    | Annotated[OtherEnvelope, Tag("other")],
    Discriminator(_tag),
]
_typed = TypeAdapter[TypedEnvelope](AnyEnvelope)


def parse_typed(raw_body: str | bytes) -> TypedEnvelope:
    """Validate a verified body against its event's model (a discriminated union on
    ``event``); raises ``pydantic.ValidationError``."""
    return _typed.validate_json(raw_body)
