"""Erasure holds for every kind of delivery that can name the person, whatever it is dated by:
a contact or meeting-recap change sent after the erasure, an unknown kind, and a Calendly retry
of a malformed delivery from before it are acknowledged and kept nowhere (counted, and logged
without the address)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.factories import after_samples, event_json
from tests.integration.conftest import Pipeline
from tests.integration.test_erasure import ADA, found_in_queues, found_in_table, run_erase

# Written for these tests (no public example exists): see the folder's README.
CONSTRUCTED = Path(__file__).resolve().parents[1] / "fixtures" / "constructed"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def constructed(name: str, *, sent: datetime, **payload_changes: Any) -> bytes:
    """A constructed body, sent (enveloped and updated) at ``sent``, with payload changes."""
    data = copy.deepcopy(json.loads((CONSTRUCTED / name).read_text(encoding="utf-8")))
    data["created_at"] = iso(sent)
    data["payload"].update({"updated_at": iso(sent), **payload_changes})
    return json.dumps(data).encode()


def malformed_naming(email: str, *, made: datetime) -> bytes:
    """A verified invitee.created that does not match the model (its updated_at is no time)."""
    data = event_json("invitee_created.json")
    data["created_at"] = iso(made)
    data["payload"].update(email=email, created_at=iso(made), updated_at="yesterday")
    return json.dumps(data).encode()


def dlq_depths(pipeline: Pipeline) -> int:
    return sum(pipeline.depth(name) for name in pipeline.stack.queue_urls if name.endswith("DLQ"))


@pytest.fixture
def erased(pipeline: Pipeline) -> tuple[Pipeline, datetime]:
    """Ada booked (her contact record made ten days ago), then was erased; the erasure's time."""
    at = after_samples()  # after every sample delivery, whatever today's date is
    booked = at - timedelta(days=10)
    assert pipeline.post(constructed("contact_updated.json", sent=booked, created_at=iso(booked)))["statusCode"] == 202
    pipeline.drain()
    assert found_in_table(pipeline, ADA)
    run_erase(pipeline.stack, now=lambda: at)
    assert found_in_table(pipeline, ADA) == []
    return pipeline, at


def test_a_contact_or_meeting_recap_change_sent_after_the_erasure_stores_nothing(
    erased: tuple[Pipeline, datetime], caplog: pytest.LogCaptureFixture
) -> None:
    pipeline, erased_at = erased
    later = erased_at + timedelta(minutes=1)
    caplog.clear()
    # Given Ada was erased
    # When Calendly sends, after the erasure, a change of her contact (made before it), a recap
    # of her meeting, and an event kind calsync does not know that names her
    unknown = {"event": "notes.updated", "created_at": iso(later), "payload": {"attendee": f"Ada <{ADA}>"}}
    bodies = [
        constructed("contact_updated.json", sent=later, created_at=iso(erased_at - timedelta(days=10))),
        constructed("meeting_recap_updated.json", sent=later, created_at=iso(later)),
        json.dumps(unknown).encode(),
    ]
    for body in bodies:
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    # Then each is acknowledged (nothing waits or is retried into a DLQ) and kept nowhere
    assert pipeline.total_depth() == 0
    assert dlq_depths(pipeline) == 0
    assert found_in_table(pipeline, ADA) == []
    assert found_in_queues(pipeline.stack, ADA) == []
    # And they are counted as refused, logged without the address
    batches = [record for record in caplog.records if record.getMessage() == "batch processed"]
    assert sum(getattr(record, "erased", 0) for record in batches) == 3
    assert ADA not in json.dumps([vars(record) for record in caplog.records], default=str).lower()


def test_a_contact_made_after_the_erasure_is_refused_too(erased: tuple[Pipeline, datetime]) -> None:
    pipeline, erased_at = erased
    later = erased_at + timedelta(minutes=1)
    # Given Ada was erased
    # When she comes back and Calendly makes a new contact for her after the erasure
    body = constructed(
        "contact_updated.json", sent=later, created_at=iso(later), uri="https://api.calendly.com/contacts/C2"
    )
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    # Then it is refused as well: the tombstone blocks every later contact event about her,
    # whatever its dates (issue 21), unlike a booking she makes again
    assert found_in_table(pipeline, ADA) == []


def test_a_retry_of_a_malformed_delivery_from_before_the_erasure_is_not_quarantined_again(
    pipeline: Pipeline,
) -> None:
    now = datetime.now(UTC)
    body = malformed_naming(ADA.upper(), made=now - timedelta(days=1))
    # Given a malformed delivery naming Ada was quarantined, then Ada was erased
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    assert [item.event for item in pipeline.repo.archived(quarantined=True)] == ["invitee.created"]
    run_erase(pipeline.stack)
    assert found_in_table(pipeline, ADA) == []
    # When Calendly retries the same delivery after the erasure
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    # Then it is acknowledged and neither archived nor quarantined again
    assert pipeline.total_depth() == 0
    assert dlq_depths(pipeline) == 0
    assert found_in_table(pipeline, ADA) == []
    assert pipeline.repo.archived(quarantined=True) == []


def test_a_stray_message_naming_an_erased_person_is_not_quarantined(erased: tuple[Pipeline, datetime]) -> None:
    from calsync import compose
    from calsync.bookings.process import process_message
    from calsync.config import ProcessorSettings

    pipeline, erased_at = erased
    ports = compose.processor(ProcessorSettings.from_env(pipeline.stack.functions["OtherProcessor"].environment))
    # Given Ada was erased
    # When a message that is not a calsync delivery (no attributes: sent by hand) names her
    body = json.dumps({"note": f"please call {ADA.title()}"})
    result = process_message(
        body,
        {},
        ports.repository,
        now=erased_at + timedelta(minutes=1),
        archive_ttl=timedelta(days=30),
        is_erased=ports.tombstones.is_erased,
    )
    # Then it is refused, not quarantined, and kept nowhere
    assert result.erased
    assert result.quarantined is None
    assert found_in_table(pipeline, ADA) == []
