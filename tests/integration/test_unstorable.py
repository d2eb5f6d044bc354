"""Input DynamoDB can never store (a key over its 2,048/1,024-byte limits, an item over 400 KB) is
quarantined at once with its reason: never retried into a DLQ."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from calsync.bookings.process import process_message
from calsync.intake.delivery import Delivery, message_attributes, message_body
from tests.factories import event_json
from tests.integration.conftest import Pipeline

LONG_ID = "X" * 1536  # 1.5 KB: fits a URI (2,048 characters), not a sort key (1,024 bytes)
EVENT = "https://api.calendly.com/scheduled_events/DEMOEVENT0000001"


def with_uris(invitee_uuid: str, event_uuid: str) -> bytes:
    data = event_json("invitee_created.json")
    event = f"https://api.calendly.com/scheduled_events/{event_uuid}"
    data["payload"].update(uri=f"{event}/invitees/{invitee_uuid}", event=event)
    data["payload"]["scheduled_event"]["uri"] = event
    return json.dumps(data).encode()


def dlq_depth(pipeline: Pipeline) -> int:
    return sum(pipeline.depth(name) for name in pipeline.stack.queue_urls if name.endswith("DLQ"))


@pytest.mark.parametrize(
    ("invitee_uuid", "event_uuid", "what"),
    [(LONG_ID, "DEMOEVENT0000001", "invitee"), ("INVITEE00000001", LONG_ID, "event")],
    ids=["invitee-uuid", "event-uuid"],
)
def test_an_identifier_too_long_for_a_key_is_quarantined_at_once(
    pipeline: Pipeline, invitee_uuid: str, event_uuid: str, what: str
) -> None:
    # Given a signed invitee.created whose (invitee or event) uuid is 1.5 KB
    body = with_uris(invitee_uuid, event_uuid)
    assert pipeline.post(body)["statusCode"] == 202
    # When it is processed
    handled = pipeline.drain()
    # Then it was handled once (no retry, nothing in a DLQ) and quarantined with its reason
    assert handled == 1
    assert pipeline.total_depth() == 0
    assert dlq_depth(pipeline) == 0
    (quarantined,) = pipeline.repo.archived(quarantined=True)
    assert quarantined.body == body.decode()
    assert quarantined.attributes["reason"].startswith(f"the {what}'s ")
    assert "bytes, over DynamoDB's" in quarantined.attributes["reason"]
    # And no booking holds any part of it
    assert pipeline.repo.all_bookings() == []


def test_an_item_over_dynamodbs_400_kb_is_quarantined_not_retried(pipeline: Pipeline) -> None:
    # Given a verified invitee.created whose answers alone are 450 KB (a body under the queue's 1 MiB)
    data = event_json("invitee_created.json")
    data["payload"]["questions_and_answers"] = [{"question": "Notes", "answer": "a" * 450_000, "position": 0}]
    body = json.dumps(data)
    item = Delivery(
        connection_id="acme",
        received_at=datetime.now(UTC),
        body_sha256=hashlib.sha256(body.encode()).hexdigest(),
        event="invitee.created",
        body=body,
    )
    attributes = {k: {"stringValue": v} for k, v in message_attributes(item).items()}
    # When a processor applies it
    result = process_message(
        message_body(item), attributes, pipeline.repo, now=datetime.now(UTC), archive_ttl=timedelta(days=30)
    )
    # Then it is quarantined with its reason (a permanent failure), not raised for a retry
    assert result.quarantined is not None
    assert "DynamoDB" in result.quarantined
    (quarantined,) = pipeline.repo.archived(quarantined=True)
    assert quarantined.attributes["reason"] == result.quarantined
    assert quarantined.body == body
    # (DynamoDB writes nothing of a refused update; moto keeps part of it, so no more is asserted)
