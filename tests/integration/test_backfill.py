"""Backfilling a gap: bookings Calendly's API lists become the deliveries the webhooks
would have been, applied version-aware by the normal processors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import httpx

from calsync import compose
from calsync.calendly.client import CalendlyClient
from calsync.intake.routing import QueueKind
from calsync_dev.backfill import backfill
from calsync_dev.fake_calendly import FakeCalendly
from calsync_dev.template import queue_logical_id
from tests.factories import event_body, event_json
from tests.integration.conftest import Pipeline


def run_backfill(pipeline: Pipeline, fake: FakeCalendly) -> dict[str, int]:
    token = fake.add_pat()
    urls = {kind: pipeline.stack.queue_urls[queue_logical_id(kind)] for kind in QueueKind}
    queue = compose.delivery_queue(urls, sqs=boto3.client("sqs"))
    with CalendlyClient(lambda: token, transport=httpx.MockTransport(fake.httpx_handler)) as calendly:
        result = backfill(
            calendly,
            queue,
            connection_id="acme",
            organization=fake.organization,
            since=datetime(2026, 11, 1, tzinfo=UTC),
            until=datetime(2026, 12, 31, tzinfo=UTC),
            now=datetime(2026, 12, 5, tzinfo=UTC),
        )
    pipeline.drain()
    return result.deliveries


def test_a_backfill_stores_what_the_lost_webhooks_would_have(pipeline: Pipeline) -> None:
    # Given Calendly's API lists Ada's booking (with its no-show) and Grace's reschedule
    fake = FakeCalendly()
    ada = event_json("invitee_no_show_created.json")["payload"]
    fake.add_booking(ada)
    fake.add_booking(event_json("invitee_rescheduled_canceled_old.json")["payload"])
    fake.add_booking(event_json("invitee_rescheduled_created_new.json")["payload"])
    # When the gap is backfilled
    sent = run_backfill(pipeline, fake)
    # Then each invitee's current state was delivered (a removal for those without a no-show)
    assert sent == {
        "invitee.created": 2,
        "invitee.canceled": 1,
        "invitee_no_show.created": 1,
        "invitee_no_show.deleted": 2,
    }
    invitees = {i["SK"]: i for i in pipeline.items() if i["type"] == "invitee"}
    assert invitees["INVITEE#INVITEE00000001"]["no_show"]["uri"] == ada["no_show"]["uri"]
    assert invitees["INVITEE#INVITEE00000002"]["status"] == "canceled"
    assert invitees["INVITEE#INVITEE00000002"]["rescheduled_to"].endswith("INVITEE00000003")
    assert invitees["INVITEE#INVITEE00000003"]["rescheduled_from"].endswith("INVITEE00000002")
    assert pipeline.total_depth() == 0
    # And running it again changes nothing
    before = json.dumps(pipeline.items(), sort_keys=True, default=str)
    run_backfill(pipeline, fake)
    assert json.dumps(pipeline.items(), sort_keys=True, default=str) == before


def test_a_backfill_never_overwrites_a_newer_stored_state(pipeline: Pipeline) -> None:
    # Given the table already has Ada's cancellation (newer than the API's stale copy)
    pipeline.post(event_body("invitee_canceled.json"))
    pipeline.drain()
    fake = FakeCalendly()
    fake.add_booking(event_json("invitee_created.json")["payload"])
    # When a backfill delivers the older, active representation
    run_backfill(pipeline, fake)
    # Then the cancellation stands
    (ada,) = [i for i in pipeline.items() if i["SK"] == "INVITEE#INVITEE00000001"]
    assert ada["status"] == "canceled"


def ada_items(pipeline: Pipeline) -> dict[str, Any]:
    (ada,) = [i for i in pipeline.items() if i["SK"] == "INVITEE#INVITEE00000001"]
    return ada


def test_a_backfill_clears_a_no_show_removed_during_the_gap(pipeline: Pipeline) -> None:
    # Given the table has Ada's no-show mark (15:40), and its removal (15:45) was lost
    pipeline.post(event_body("invitee_no_show_created.json"))
    pipeline.drain()
    assert ada_items(pipeline)["no_show"] is not None
    # And Calendly's API now lists Ada without a no-show, updated at the removal
    fake = FakeCalendly()
    fake.add_booking(event_json("invitee_no_show_deleted.json")["payload"])
    # When the gap is backfilled
    sent = run_backfill(pipeline, fake)
    # Then the removal was delivered and the mark is cleared
    assert sent == {"invitee.created": 1, "invitee_no_show.deleted": 1}
    assert ada_items(pipeline)["no_show"] is None
    # And a second backfill changes nothing
    before = json.dumps(pipeline.items(), sort_keys=True, default=str)
    run_backfill(pipeline, fake)
    assert json.dumps(pipeline.items(), sort_keys=True, default=str) == before


def test_a_backfill_never_clears_a_no_show_marked_after_the_api_read(pipeline: Pipeline) -> None:
    # Given Calendly's API was read when Ada had no no-show (updated 15:45)
    fake = FakeCalendly()
    fake.add_booking(event_json("invitee_no_show_deleted.json")["payload"])
    # And afterwards the host marked her again (16:00), and that webhook is stored
    mark = event_json("invitee_no_show_created.json")
    mark["created_at"] = "2026-12-01T16:00:01.000000Z"
    mark["payload"]["updated_at"] = "2026-12-01T16:00:00.000000Z"
    mark["payload"]["no_show"] = {
        "uri": "https://api.calendly.com/invitee_no_shows/NOSHOW0000000002",
        "created_at": "2026-12-01T16:00:00.000000Z",
    }
    pipeline.post(json.dumps(mark).encode())
    pipeline.drain()
    # When the backfill built from the earlier read is applied
    run_backfill(pipeline, fake)
    # Then the later mark stands
    assert ada_items(pipeline)["no_show"]["uri"].endswith("NOSHOW0000000002")
    assert ada_items(pipeline)["status"] == "active"
