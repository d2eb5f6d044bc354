"""Reconciling a range an operator chooses (``calsync.reconcile.manual``; ``calsync reconcile
--since/--until`` and its alias ``calsync backfill``): bookings Calendly's API lists become the
deliveries the lost webhooks would have been, applied version-aware by the normal processors.
(Formerly the separate ``backfill``; it now shares the reconciler's code path.)"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
import respx

from calsync.connections.records import StoredToken
from calsync.intake.delivery import Delivery
from calsync.intake.receive import DeliveryQueue
from calsync.intake.routing import QueueKind
from calsync.reconcile.manual import Range, reconcile
from calsync_dev.fake_calendly import FakeCalendly
from tests.factories import event_body, event_json
from tests.integration.conftest import Pipeline
from tests.integration.test_reconcile import Reconcile, forget_everything, stored_bookings
from tests.integration.test_reconcile import reconcile as reconcile_services

__all__ = ["reconcile_services"]  # the fixture, shared with the scheduled reconcile's tests

SINCE, UNTIL = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)
NOW = datetime(2026, 12, 5, tzinfo=UTC)


class CountingQueue:
    """The intake queues, counting what was sent per webhook event."""

    def __init__(self, queue: DeliveryQueue) -> None:
        self.queue, self.sent = queue, Counter[str]()

    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        self.queue.send(kind, delivery)
        self.sent[delivery.event] += 1


def run_range(pipeline: Pipeline, services: Reconcile, fake: FakeCalendly) -> dict[str, int]:
    """Reconcile "acme" over [SINCE, UNTIL] as an operator would; the deliveries it enqueued."""
    reconciler, client = services.reconciler(fake, 250)
    queue = CountingQueue(reconciler.queue)
    reconciler.queue = queue
    with client:
        report = reconcile(
            reconciler,
            services.services.state,
            connection_id="acme",
            organization=fake.organization,
            now=NOW,
            upcoming_days=90,
            recent_days=7,
            span=Range(SINCE, UNTIL),
        )
    assert report.complete
    assert [w.name for w in report.windows] == ["submissions", "manual"]
    pipeline.drain()
    return dict(queue.sent)


def test_a_range_reconcile_stores_what_the_lost_webhooks_would_have(
    pipeline: Pipeline, reconcile_services: Reconcile
) -> None:
    # Given Calendly's API lists Ada's booking (with its no-show) and Grace's reschedule
    fake = FakeCalendly()
    ada = event_json("invitee_no_show_created.json")["payload"]
    fake.add_booking(ada)
    fake.add_booking(event_json("invitee_rescheduled_canceled_old.json")["payload"])
    fake.add_booking(event_json("invitee_rescheduled_created_new.json")["payload"])
    # When the gap is reconciled
    sent = run_range(pipeline, reconcile_services, fake)
    # Then each invitee's current state was delivered (no removal of a no-show: none was stored;
    # the backfill this replaces sent one per invitee without a mark, and they changed nothing)
    assert sent == {"invitee.created": 2, "invitee.canceled": 1, "invitee_no_show.created": 1}
    invitees = {i["SK"]: i for i in pipeline.items() if i["type"] == "invitee"}
    assert invitees["INVITEE#INVITEE00000001"]["no_show"]["uri"] == ada["no_show"]["uri"]
    assert invitees["INVITEE#INVITEE00000002"]["status"] == "canceled"
    assert invitees["INVITEE#INVITEE00000002"]["rescheduled_to"].endswith("INVITEE00000003")
    assert invitees["INVITEE#INVITEE00000003"]["rescheduled_from"].endswith("INVITEE00000002")
    assert pipeline.total_depth() == 0
    # And running it again changes nothing (and sends nothing)
    before = json.dumps(pipeline.items(), sort_keys=True, default=str)
    assert run_range(pipeline, reconcile_services, fake) == {}
    assert json.dumps(pipeline.items(), sort_keys=True, default=str) == before


def test_a_range_reconcile_never_overwrites_a_newer_stored_state(
    pipeline: Pipeline, reconcile_services: Reconcile
) -> None:
    # Given the table already has Ada's cancellation (newer than the API's stale copy)
    pipeline.post(event_body("invitee_canceled.json"))
    pipeline.drain()
    fake = FakeCalendly()
    fake.add_booking(event_json("invitee_created.json")["payload"])
    # When a range reconcile reads the older, active representation
    run_range(pipeline, reconcile_services, fake)
    # Then the cancellation stands
    (ada,) = [i for i in pipeline.items() if i["SK"] == "INVITEE#INVITEE00000001"]
    assert ada["status"] == "canceled"


def ada_items(pipeline: Pipeline) -> dict[str, Any]:
    (ada,) = [i for i in pipeline.items() if i["SK"] == "INVITEE#INVITEE00000001"]
    return ada


def test_a_range_reconcile_clears_a_no_show_removed_during_the_gap(
    pipeline: Pipeline, reconcile_services: Reconcile
) -> None:
    # Given the table has Ada's no-show mark (15:40), and its removal (15:45) was lost
    pipeline.post(event_body("invitee_no_show_created.json"))
    pipeline.drain()
    assert ada_items(pipeline)["no_show"] is not None
    # And Calendly's API now lists Ada without a no-show, updated at the removal
    fake = FakeCalendly()
    fake.add_booking(event_json("invitee_no_show_deleted.json")["payload"])
    # When the gap is reconciled
    sent = run_range(pipeline, reconcile_services, fake)
    # Then the removal was delivered and the mark is cleared
    assert sent == {"invitee.created": 1, "invitee_no_show.deleted": 1}
    assert ada_items(pipeline)["no_show"] is None
    # And a second run changes nothing
    before = json.dumps(pipeline.items(), sort_keys=True, default=str)
    run_range(pipeline, reconcile_services, fake)
    assert json.dumps(pipeline.items(), sort_keys=True, default=str) == before


def test_a_range_reconcile_never_clears_a_no_show_marked_after_the_api_read(
    pipeline: Pipeline, reconcile_services: Reconcile
) -> None:
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
    # When the reconcile built from the earlier read is applied
    run_range(pipeline, reconcile_services, fake)
    # Then the later mark stands
    assert ada_items(pipeline)["no_show"]["uri"].endswith("NOSHOW0000000002")
    assert ada_items(pipeline)["status"] == "active"


def test_the_backfill_alias_and_reconcile_over_the_same_range_do_the_same(
    pipeline: Pipeline,
    reconcile_services: Reconcile,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from calsync_dev.cli import main
    from tests.integration.test_erasure import target_of

    # Given Calendly's API lists bookings whose webhooks were lost, and an operator's CLI on this stack
    fake = FakeCalendly()
    fake.add_booking(event_json("invitee_no_show_created.json")["payload"])
    fake.add_booking(event_json("invitee_rescheduled_canceled_old.json")["payload"])
    fake.add_booking(event_json("invitee_rescheduled_created_new.json")["payload"])
    services = reconcile_services.services
    services.connections.tokens.put("acme", StoredToken(kind="pat", access_token=fake.add_pat()))
    env = pipeline.stack.functions["ReconcilerFunction"].environment
    target = dataclasses.replace(target_of(pipeline.stack), token_prefix=env["TOKEN_SECRET_PREFIX"])
    monkeypatch.setattr("calsync_dev.cli.reconcile.target_from", lambda args: target)
    monkeypatch.setattr("calsync_dev.cli.reconcile.clock", lambda: NOW)
    window = ["--connection-id", "acme", "--since", "2026-11-01", "--until", "2026-12-31", "--json", "--quiet"]

    def run(command: str) -> tuple[dict[str, Any], dict[str, Any]]:
        with respx.mock(assert_all_called=False) as router:
            router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
            assert main([command, *window]) == 0
        pipeline.drain()
        report = json.loads(capsys.readouterr().out)
        return {k: v for k, v in report.items() if k not in ("started_at", "duration_seconds")}, stored_bookings(
            pipeline
        )

    # When the gap is backfilled, then (everything lost again) reconciled over the same range
    by_backfill, stored_by_backfill = run("backfill")
    forget_everything(pipeline)
    by_reconcile, stored_by_reconcile = run("reconcile")
    # Then both stored the same bookings and reported the same run
    assert len([k for k in stored_by_backfill if k.startswith("StoredBooking")]) == 3
    assert stored_by_reconcile == stored_by_backfill
    assert by_reconcile == by_backfill
    assert (by_backfill["reason"], by_backfill["missing"], by_backfill["repaired"]) == ("manual", 3, 3)
