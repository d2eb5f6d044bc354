"""Replay (``calsync.replay``, ``calsync replay``): kept deliveries go through the queues again,
version-aware, so a replay changes only what is missing and publishes only real changes; the
processors count each replayed delivery's outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from calsync import compose
from calsync.bookings import apply as service
from calsync.replay.replay import Selection, replay, select
from tests.factories import event_body
from tests.integration.test_lifecycle import Lifecycle, kinds, lifecycle

__all__ = ["lifecycle"]  # the fixture, shared with the lifecycle tests


def test_a_replay_changes_only_what_is_missing_and_publishes_only_real_changes(lifecycle: Lifecycle) -> None:
    # Given a day's deliveries, processed and published
    lifecycle.deliver(event_body("invitee_created.json"), event_body("invitee_no_show_created.json"))
    repo = lifecycle.pipeline.repo
    window = Selection(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(minutes=1))
    items = select(repo, window)
    assert {i.event for i in items} == {"invitee.created", "invitee_no_show.created"}
    # When they are replayed through the queues
    urls = {kind: lifecycle.pipeline.stack.queue_urls[f"{kind.pascal}Queue"] for kind in compose.QueueKind}
    replay_id, enqueued = replay(items, compose.delivery_queue(urls, sqs=boto3.client("sqs")))
    assert enqueued == 2
    # Then every one is processed as unchanged, and no lifecycle event is published again
    assert lifecycle.deliver() == []
    assert repo.replay_counts(replay_id) == {"applied": 0, "unchanged": 2, "quarantined": 0, "erased": 0}
    # And filters narrow the selection
    assert [i.event for i in select(repo, Selection(window.since, window.until, event="invitee.created"))] == [
        "invitee.created"
    ]
    assert select(repo, Selection(window.since, window.until, connection_id="someone-else")) == []


def test_a_replay_of_quarantined_deliveries_applies_them_once_they_can_be(
    lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a delivery quarantined by a defect (its model refused it)
    def broken(payload: Any, tenant: str) -> Any:
        raise service.InvalidDelivery("a defect")

    fixed = service.invitee_snapshot
    monkeypatch.setattr(service, "invitee_snapshot", broken)
    lifecycle.deliver(event_body("invitee_created.json"))
    window = Selection(
        datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(minutes=1), quarantined=True
    )
    (quarantined,) = select(lifecycle.pipeline.repo, window)
    # When the defect is fixed and the quarantined delivery replayed
    monkeypatch.setattr(service, "invitee_snapshot", fixed)
    urls = {kind: lifecycle.pipeline.stack.queue_urls[f"{kind.pascal}Queue"] for kind in compose.QueueKind}
    replay_id, _ = replay([quarantined], compose.delivery_queue(urls, sqs=boto3.client("sqs")))
    published = lifecycle.deliver()
    # Then it is applied and the booking is announced
    assert lifecycle.pipeline.repo.replay_counts(replay_id)["applied"] == 1
    assert kinds(published) == ["Booking Scheduled"]
