"""What was stored before the lake existed → lake records: the live events' records, no personal data,
and counted once however often it is written."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calsync.analytics.metrics import NAMES, MetricWindow
from calsync.analytics.record import LakeRecord, lake_records
from calsync.analytics.stored import KnownFirst, stored_records
from calsync.aws import keys
from calsync.lifecycle.events import DetailType
from calsync_dev.analytics.lake import connect, run, write_records
from tests.factories import event_body, vary
from tests.fakes.lifecycle import FakeImages
from tests.unit.analytics.test_record import SAMPLES, as_person, leaks, personal_values
from tests.unit.lifecycle.pipeline import Pipeline

AT = datetime(2026, 11, 20, 9, 0, 5, tzinfo=UTC)
AS_OF = datetime(2026, 12, 10, tzinfo=UTC)

# Ada books (from a newsletter) and is marked a no-show; Grace books and cancels; a reschedule; a submission
HISTORY = [
    vary("invitee_created.json", tracking={"utm_source": "newsletter", "utm_campaign": "winter"}),
    event_body("invitee_no_show_created.json"),
    as_person(
        "invitee_created.json",
        {"uri": "https://api.calendly.com/scheduled_events/DEMOEVENT0000001/invitees/GRACE00000000001"},
    ),
    as_person(
        "invitee_canceled.json",
        {"uri": "https://api.calendly.com/scheduled_events/DEMOEVENT0000001/invitees/GRACE00000000001"},
    ),
    event_body("invitee_rescheduled_canceled_old.json"),
    event_body("invitee_rescheduled_created_new.json"),
    event_body("routing_form_submission_created.json"),
]


def stored(pipeline: Pipeline) -> list[dict[str, Any]]:
    """The table's items as a scan reads them (attributes, keys removed)."""
    return [copy.deepcopy(item) for _, item in sorted(pipeline.table.items.items())]


def backfill(pipeline: Pipeline) -> list[LakeRecord]:
    items = stored(pipeline)
    images = KnownFirst(items, pipeline.images)
    return [record for item in items for record in stored_records(item, images)]


def metrics(records: list[LakeRecord], directory: Path) -> dict[str, Any]:
    write_records(records, directory)
    connection = connect(directory)
    window = MetricWindow(as_of=AS_OF)
    return {name: sorted(run(connection, name, window).rows, key=str) for name in NAMES}  # listings: no set order


def test_the_stored_history_lands_as_the_records_the_live_events_would_have() -> None:
    # Given the history delivered while the lake existed (its live records), and the same history stored
    live = Pipeline()
    live_records = [record for body in HISTORY for e in live.deliver(body) for record in lake_records(e, AT)]
    before = Pipeline()
    before.process(*HISTORY)
    # When the stored items are backfilled
    records = backfill(before)

    # Then every booking lands in its current state, with the live events' ids, kinds and versions
    def states(found: list[LakeRecord]) -> set[tuple[Any, ...]]:
        latest: dict[str | None, LakeRecord] = {}
        for r in found:
            key = r.invitee_uuid if r.kind != DetailType.ROUTING_FORM_SUBMITTED else r.submission_uuid
            if key not in latest or (r.version or "", r.no_show_version or "") > (
                latest[key].version or "",
                latest[key].no_show_version or "",
            ):
                latest[key] = r
        fields = ("event_uuid", "invitee_uuid", "event_type", "status", "no_show", "canceled_by", "rescheduled")
        return {tuple(getattr(r, f) for f in (*fields, "utm_source", "version")) for r in latest.values()}

    assert states(records) == states(live_records)
    assert {r.event_id for r in records} <= {r.event_id for r in live_records}
    # And the reschedule lands once, though both halves are stored
    assert sum(r.kind == DetailType.BOOKING_RESCHEDULED for r in records) == 2  # the new booking and the old half


def test_the_metrics_of_the_backfill_are_the_live_lakes(tmp_path: Path) -> None:
    live = Pipeline()
    live_records = [record for body in HISTORY for e in live.deliver(body) for record in lake_records(e, AT)]
    before = Pipeline()
    before.process(*HISTORY)
    backfilled = metrics(backfill(before), tmp_path / "backfill")
    expected = metrics(live_records, tmp_path / "live")
    # Every metric but lead time (a backfilled booking's creation is Calendly's, the live one's when it was published)
    assert {k: v for k, v in backfilled.items() if k not in ("lead_time", "current_bookings")} == {
        k: v for k, v in expected.items() if k not in ("lead_time", "current_bookings")
    }

    # current_bookings: the same bookings in the same states (created_at aside, as for lead time; and the
    # table knows the submission a booking came from even when it was linked after its event was published)
    def without_created(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        return sorted((row[:7] + row[8:13] + row[14:] for row in rows), key=str)  # not created_at, submission_uuid

    assert without_created(backfilled["current_bookings"]) == without_created(expected["current_bookings"])
    assert len(expected["current_bookings"]) == 4


def test_writing_the_backfill_again_or_beside_the_live_records_changes_no_metric(tmp_path: Path) -> None:
    # Given a lake holding the live records and the backfill of the same history
    live = Pipeline()
    live_records = [record for body in HISTORY for e in live.deliver(body) for record in lake_records(e, AT)]
    records = backfill(live)
    once = metrics(live_records + records, tmp_path / "once")
    # When the backfill is written again (and again)
    twice = metrics(live_records + records + records + records, tmp_path / "twice")
    # Then no metric changed
    assert twice == once


def test_a_backfilled_booking_keeps_its_calendly_creation_time_and_the_times_of_its_changes() -> None:
    before = Pipeline()
    before.process(event_body("invitee_created.json"), event_body("invitee_canceled.json"))
    (canceled,) = backfill(before)
    assert canceled.kind == DetailType.BOOKING_CANCELED
    assert canceled.created_at is not None
    assert canceled.created_at < canceled.occurred_at  # booked, then canceled later
    assert canceled.dt.isoformat() == canceled.occurred_at.date().isoformat()
    # And the same table backfilled again gives the same records (no clock involved)
    assert backfill(before) == [canceled]


def test_items_that_are_not_bookings_land_as_nothing() -> None:
    images = FakeImages.of()
    assert stored_records({"type": "delivery", "body": "{}"}, images) == []
    assert stored_records({"type": "connection", "status": "active"}, images) == []
    assert stored_records({"type": "invitee"}, images) == []  # nothing known yet (a link before its booking)


def test_no_personal_data_stored_reaches_the_backfill() -> None:
    # Given every sample delivery stored, and an erased person's bookings and their tombstone
    person = {"email": "erased.person@example.org", "name": "Erin Erased"}
    bodies = [event_body(name) for name in SAMPLES]
    before = Pipeline()
    before.process(*bodies)
    erased = Pipeline()
    erased.process(*(as_person(sample, person) for sample in SAMPLES if sample.startswith("invitee_")))
    erased.table.put(
        keys.tombstone("h" * 64),
        {"type": "tombstone", "address_hash": "h" * 64, "erased_at": "2026-12-02T00:00:00Z"},
    )
    records = backfill(before) + backfill(erased)
    assert DetailType.INVITEE_ERASED in {r.kind for r in records}
    # Then no record holds any personal value of any payload, nor the erased person's email or name
    secrets = {text for body in bodies for text in personal_values(json.loads(body))}
    assert leaks(secrets, records) == set()
    for record in records:
        text = record.model_dump_json().lower()
        assert "erased.person" not in text
        assert "erin" not in text
