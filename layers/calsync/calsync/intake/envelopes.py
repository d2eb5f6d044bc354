"""Calendly webhook envelopes, built from Calendly's own resource models.

A delivery is ``{event, created_at, created_by, payload}``; the payload is the API resource
(``calsync.calendly.models``) with what webhooks do differently: an invitee's ``event`` may be
missing (2020-era deliveries, which also lack ``created_by`` and ``scheduled_event``), its
``updated_at`` is required (it orders deliveries), and it may embed its scheduled event.
Unknown fields are ignored; unknown events are kept whole (``OtherEnvelope``).

A body may escape a lone surrogate (``"\\ud83d"``: valid JSON grammar, e.g. an emoji cut in
half by a length limit), which pydantic's parser refuses; such a body is parsed with each lone
surrogate read as U+FFFD (what UTF-8 storage can hold), while the body itself is kept as signed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, TypeAdapter, ValidationError

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


class _AnyObject(BaseModel):
    """Any JSON object, checked but not built: its members are skipped, never made Python objects."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class EnvelopeHead(CalendlyModel):
    """What the receiver checks before it enqueues: the envelope's fields, the payload only as
    "a JSON object" (the processors validate it against the event's model). Building the payload
    as Python objects would double the receiver's cost for nothing it reads."""

    event: EventName
    created_at: UtcDatetime
    created_by: Uri | None = None
    payload: _AnyObject


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
# The model's own pydantic-core validator, bound once: ``model_validate_json`` adds ~0.6 µs of
# Python per call, an eighth of the receiver's parse.
_validate_head: Callable[[str | bytes], EnvelopeHead] = EnvelopeHead.__pydantic_validator__.validate_json

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _with_lone_surrogates_replaced(raw_body: str | bytes) -> str | None:
    """The body re-serialised with each lone surrogate as U+FFFD; None when it has none (or is
    not JSON even to the standard library), so a body is only ever re-read for this reason."""
    raw = raw_body.encode() if isinstance(raw_body, str) else raw_body
    if not _SURROGATE_ESCAPE.search(raw):
        return None
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
    except ValueError:
        return None
    found = False

    def clean(value: Any) -> Any:
        nonlocal found
        if isinstance(value, str):
            fixed = _SURROGATE.sub("\ufffd", value)
            found |= fixed != value
            return fixed
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        return value

    cleaned = clean(data)
    return json.dumps(cleaned) if found else None


def _validate[T](validate_json: Callable[[str | bytes], T], raw_body: str | bytes) -> T:
    try:
        return validate_json(raw_body)
    except ValidationError as exc:
        if not any(err["type"] == "json_invalid" for err in exc.errors(include_url=False)):
            raise
        repaired = _with_lone_surrogates_replaced(raw_body)
        if repaired is None:
            raise
    return validate_json(repaired)


def parse_envelope(raw_body: str | bytes) -> EnvelopeHead:
    """The shared envelope of a verified body (its payload checked to be an object, not built);
    raises ``pydantic.ValidationError``."""
    return _validate(_validate_head, raw_body)


def parse_typed(raw_body: str | bytes) -> TypedEnvelope:
    """Validate a verified body against its event's model (a discriminated union on
    ``event``); raises ``pydantic.ValidationError``."""
    return _validate(_typed.validate_json, raw_body)
