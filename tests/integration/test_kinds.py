"""Event types, contacts and meeting recaps through the stack provisioned from template.yaml:
their webhooks pass the receiver and the processor into typed items (every AWS request one the
processor's own role allows), and come back from the read API (a scheduled event with its
recap, a connection's contacts by email), each body matching the OpenAPI contract."""

from __future__ import annotations

import json
from typing import Any

import pytest

from calsync.aws import keys
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from tests.factories import event_body
from tests.iam import not_granted, recorded_calls
from tests.integration.conftest import Pipeline
from tests.integration.test_erasure_later import CONSTRUCTED
from tests.integration.test_read_api import get_request
from tests.openapi_contract import check

EVENT_ROUTE = "/v1/connections/{connection_id}/events/{event_uuid}"
CONTACTS_ROUTE = "/v1/connections/{connection_id}/contacts"


def constructed(fixture: str, /, **payload: Any) -> bytes:
    data = json.loads((CONSTRUCTED / fixture).read_text())
    data["payload"].update(payload)
    return json.dumps(data).encode()


@pytest.fixture
def read_api(pipeline: Pipeline) -> Any:
    return load_handler(pipeline.stack.functions["ReadApiFunction"], apply_environment=False)


def test_a_recap_and_a_contact_come_back_from_the_read_api(pipeline: Pipeline, read_api: Any) -> None:
    # Given Ada's booking, the recap of its meeting and her contact, delivered and processed
    for body in (
        event_body("invitee_created.json"),
        constructed("meeting_recap_updated.json"),
        constructed("contact_updated.json"),
        constructed("event_type_updated.json"),
    ):
        assert pipeline.post(body)["statusCode"] == 202
    with recorded_calls() as calls:
        pipeline.drain()
    assert not_granted("OtherProcessor", calls) == []
    # When an application reads the event
    with recorded_calls() as calls:
        response = read_api(
            get_request(EVENT_ROUTE, connection_id="acme", event_uuid="DEMOEVENT0000001"), LambdaContext("read")
        )
        found = read_api(get_request(CONTACTS_ROUTE, connection_id="acme", email="ADA@example.com"), LambdaContext("r"))
        none = read_api(get_request(CONTACTS_ROUTE, connection_id="acme", email="bob@example.com"), LambdaContext("r"))
        bad = read_api(get_request(CONTACTS_ROUTE, connection_id="acme", email="nobody"), LambdaContext("r"))
        other = read_api(
            get_request(CONTACTS_ROUTE, connection_id="globex", email="ada@example.com"), LambdaContext("r")
        )
    assert not_granted("ReadApiFunction", calls) == []
    # Then it carries its recap, text included
    event = check("get", EVENT_ROUTE, response)
    assert [r["summary_md"] for r in event["recaps"]] == ["Ada walked through the demo and asked about pricing."]
    # And her contact is found by her address (any case), nobody else's, and a bad address is a 400
    contacts = check("get", CONTACTS_ROUTE, found)["contacts"]
    assert [(c["name"], c["emails"]) for c in contacts] == [("Ada Lovelace", ["ada@example.com"])]
    assert check("get", CONTACTS_ROUTE, none) == {"contacts": []}
    assert check("get", CONTACTS_ROUTE, bad)["parameter"] == "email"
    assert other["statusCode"] == 404
    # And the event type is stored for the connection
    stored = pipeline.repo.resources("event_type", "acme")
    assert [(e.type, e.attributes["name"]) for e in stored] == [("event_type", "15 Minute Meeting")]
    assert keys.resources_pk("event_type", "acme") == "EVENTTYPES#acme"


def test_a_deleted_recap_and_contact_are_not_shown(pipeline: Pipeline, read_api: Any) -> None:
    for body in (
        event_body("invitee_created.json"),
        constructed("meeting_recap_updated.json"),
        constructed("contact_updated.json"),
        constructed("meeting_recap_deleted.json"),
        constructed("contact_deleted.json"),
    ):
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    event = read_api(get_request(EVENT_ROUTE, connection_id="acme", event_uuid="DEMOEVENT0000001"), LambdaContext("r"))
    assert check("get", EVENT_ROUTE, event)["recaps"] == []
    found = read_api(get_request(CONTACTS_ROUTE, connection_id="acme", email="ada@example.com"), LambdaContext("r"))
    assert check("get", CONTACTS_ROUTE, found) == {"contacts": []}
    assert "Ada walked" not in json.dumps(pipeline.items(), default=str)


def test_bookings_carry_their_event_types_current_name(pipeline: Pipeline, read_api: Any) -> None:
    booking = json.loads(event_body("invitee_created.json"))
    event_type = booking["payload"]["scheduled_event"]["event_type"]
    booked_as = booking["payload"]["scheduled_event"]["name"]
    # Given Ada's booking, and then its event type renamed
    assert pipeline.post(event_body("invitee_created.json"))["statusCode"] == 202
    renamed = constructed("event_type_updated.json", uri=event_type, name="Discovery call (renamed)")
    assert pipeline.post(renamed)["statusCode"] == 202
    pipeline.drain()
    with recorded_calls() as calls:
        # When an application reads the booking, its event and the bookings list
        one = read_api(
            get_request(
                "/v1/connections/{connection_id}/bookings/{invitee_uuid}",
                connection_id="acme",
                invitee_uuid="INVITEE00000001",
            ),
            LambdaContext("r"),
        )
        event = read_api(
            get_request(EVENT_ROUTE, connection_id="acme", event_uuid="DEMOEVENT0000001"), LambdaContext("r")
        )
        listed = read_api(
            get_request("/v1/connections/{connection_id}/bookings", connection_id="acme"), LambdaContext("r")
        )
    assert not_granted("ReadApiFunction", calls) == []
    # Then each shows the event type's current name, not the one it was booked under
    assert booked_as != "Discovery call (renamed)"
    assert check("get", "/v1/connections/{connection_id}/bookings/{invitee_uuid}", one)["event_name"] == (
        "Discovery call (renamed)"
    )
    assert [i["event_name"] for i in check("get", EVENT_ROUTE, event)["invitees"]] == ["Discovery call (renamed)"]
    body = check("get", "/v1/connections/{connection_id}/bookings", listed)
    assert [b["event_name"] for b in body["bookings"]] == ["Discovery call (renamed)"]


def test_the_stack_publishes_event_type_changes_and_ready_recaps_without_their_text(pipeline: Pipeline) -> None:
    from tests.integration.test_lifecycle import Lifecycle

    lifecycle = Lifecycle(pipeline)
    # Given the stack as deployed by default (RecapTextInEvents=false)
    assert lifecycle.env["RECAP_TEXT_IN_EVENTS"] == "false"
    # When the demo's event type, booking and meeting recap arrive, through the table's stream
    published = lifecycle.deliver(
        event_body("event_type_updated.json"),
        event_body("invitee_created.json"),
        event_body("meeting_recap_created.json"),
    )
    # Then the event type's creation, the booking (under the event type's current name) and the
    # ready recap are on the bus, the recap without its text
    kinds = [e["detail-type"] for e in published]
    assert sorted(kinds) == ["Booking Scheduled", "Event Type Changed", "Meeting Recap Ready"]
    (recap,) = [e["detail"] for e in published if e["detail-type"] == "Meeting Recap Ready"]
    assert recap["recap"]["text_included"] is False
    assert recap["recap"]["summary_md"] is None
    assert "Ada walked" not in json.dumps(published)
    (booking,) = [e["detail"]["booking"] for e in published if e["detail-type"] == "Booking Scheduled"]
    assert booking["event_name"] == "Product demo"
