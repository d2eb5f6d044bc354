"""Every real Calendly webhook fixture parses into the model for its event."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from calsync.intake.envelopes import (
    InviteeEnvelope,
    NoShowEnvelope,
    OtherEnvelope,
    RoutingFormEnvelope,
    parse_typed,
)
from calsync.intake.routing import QueueKind, route
from tests.factories import EVENTS, fixture_bodies

EXPECTED = {
    "invitee.created": InviteeEnvelope,
    "invitee.canceled": InviteeEnvelope,
    "invitee_no_show.created": NoShowEnvelope,
    "invitee_no_show.deleted": NoShowEnvelope,
    "routing_form_submission.created": RoutingFormEnvelope,
}
ALL_BODIES = {**fixture_bodies(), **{f"events/{p.name}": p.read_bytes() for p in (EVENTS / "webhooks").glob("*.json")}}


@pytest.mark.parametrize("name", sorted(ALL_BODIES))
def test_every_fixture_parses_into_its_event_model(name: str) -> None:
    # Given a real delivery body
    body = ALL_BODIES[name]
    # When it is parsed
    envelope = parse_typed(body)
    # Then it gets the model for its event, keeping the fields booking state needs
    assert type(envelope) is EXPECTED.get(envelope.event, OtherEnvelope)
    raw = json.loads(body)
    if isinstance(envelope, InviteeEnvelope | NoShowEnvelope):
        assert envelope.payload.uri == raw["payload"]["uri"]
        assert envelope.payload.updated_at.tzinfo is not None


def test_2020_shape_without_created_by_or_scheduled_event_is_accepted() -> None:
    envelope = parse_typed(fixture_bodies()["invitee_created__2020_shape__hull_connectors.json"])
    assert isinstance(envelope, InviteeEnvelope)
    assert envelope.created_by is None
    assert envelope.payload.scheduled_event is None


def test_current_shape_keeps_the_embedded_scheduled_event() -> None:
    envelope = parse_typed(fixture_bodies()["invitee_created__calendlyr_docs_example.json"])
    assert isinstance(envelope, InviteeEnvelope)
    assert envelope.payload.scheduled_event is not None
    assert envelope.payload.scheduled_event.name == "15 Minute Meeting"


def test_unknown_fields_are_ignored_and_unknown_events_are_kept_whole() -> None:
    body = b'{"event": "contact.created", "created_at": "2026-01-01T00:00:00Z", "payload": {"a": 1}, "new_top": 2}'
    envelope = parse_typed(body)
    assert isinstance(envelope, OtherEnvelope)
    assert envelope.payload == {"a": 1}


def test_a_known_event_with_the_wrong_payload_types_is_rejected() -> None:
    body = b'{"event": "invitee.created", "created_at": "2026-01-01T00:00:00Z", "payload": {"uri": 5}}'
    with pytest.raises(ValidationError):
        parse_typed(body)


@pytest.mark.parametrize(
    ("event", "queue"),
    [
        ("invitee.created", QueueKind.INVITEE_CREATED),
        ("invitee.canceled", QueueKind.INVITEE_CANCELED),
        ("invitee_no_show.created", QueueKind.INVITEE_NO_SHOW),
        ("invitee_no_show.deleted", QueueKind.INVITEE_NO_SHOW),
        ("routing_form_submission.created", QueueKind.ROUTING_FORM),
        ("meeting_recap.created", QueueKind.OTHER),
        ("event_type.updated", QueueKind.OTHER),
    ],
)
def test_events_route_to_their_queue_and_unknown_ones_to_other(event: str, queue: QueueKind) -> None:
    assert route(event) is queue
