"""The lake's Firehose transformation: lifecycle events as EventBridge puts them on the stream →
lake rows for the Parquet conversion; reminders dropped; anything it cannot map failed to the
error prefix (and counted), never a crashed batch."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from calsync.analytics.firehose import transform
from calsync.analytics.record import LakeRecord, from_eventbridge
from calsync.lifecycle.events import DetailType, LifecycleEvent
from tests.factories import event_body, eventbridge_envelope, fixture_bodies
from tests.functions import load_app
from tests.unit.analytics.test_record import SAMPLES, every_event, leaks, personal_values

TIME = "2026-11-20T09:00:05Z"


def envelope(event: LifecycleEvent) -> dict[str, Any]:
    return eventbridge_envelope(event, TIME)


def firehose(*payloads: bytes | str) -> dict[str, Any]:
    """A Firehose data-transformation event holding these records."""
    return {
        "invocationId": "inv-1",
        "deliveryStreamArn": "arn:aws:firehose:us-east-1:111122223333:deliverystream/calsync-test-lake",
        "region": "us-east-1",
        "records": [
            {
                "recordId": f"r{i}",
                "approximateArrivalTimestamp": 1763629205000,
                "data": payload if isinstance(payload, str) else base64.b64encode(payload).decode(),
            }
            for i, payload in enumerate(payloads)
        ],
    }


def rows_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of an Ok record, as Firehose's JSON deserializer reads concatenated objects."""
    text = base64.b64decode(answer["data"]).decode()
    return [json.loads(line) for line in text.splitlines() if line]


def of(event: LifecycleEvent) -> bytes:
    return json.dumps(envelope(event)).encode()


def test_every_sample_events_lake_kind_becomes_its_rows_and_reminders_are_dropped() -> None:
    # Given the lifecycle events the sample deliveries publish, as EventBridge puts them on the stream,
    # and a reminder
    events = every_event([event_body(name) for name in SAMPLES])
    (scheduled, *_) = events
    reminder = LifecycleEvent(DetailType.BOOKING_STARTING_SOON, "rem-1", scheduled.detail | {"lead_seconds": 3600})
    # When Firehose hands them to the transformer in one batch
    event = firehose(*(of(e) for e in [*events, reminder]))
    response, tally = transform(event)
    answers = response["records"]
    # Then every record is answered once, in order, and each lake event became rows of the lake's columns
    assert [a["recordId"] for a in answers] == [f"r{i}" for i in range(len(events) + 1)]
    assert [a["result"] for a in answers] == ["Ok"] * len(events) + ["Dropped"]
    assert answers[-1]["data"] == event["records"][-1]["data"]  # a dropped record is handed back as given
    for answer, event_ in zip(answers[:-1], events, strict=True):
        # each the same rows the local lake and the backfill write for that event (one record shape)
        assert rows_of(answer) == [record.as_row() for record in from_eventbridge(envelope(event_))]
        for row in rows_of(answer):
            assert list(row) == list(LakeRecord.model_fields)
            assert LakeRecord.model_validate(row).event_id  # the row reads back as a record
    assert (tally.ok, tally.dropped, tally.failed) == (len(events), 1, 0)


def test_a_reschedule_is_two_rows_in_its_one_record() -> None:
    # Given the reschedule's lifecycle event
    (_, rescheduled) = every_event(
        [
            event_body("invitee_created.json"),
            event_body("invitee_rescheduled_canceled_old.json"),
            event_body("invitee_rescheduled_created_new.json"),
        ]
    )
    assert rescheduled.detail_type is DetailType.BOOKING_RESCHEDULED
    # When it is transformed
    response, tally = transform(firehose(of(rescheduled)))
    (answer,) = response["records"]
    # Then its one record holds both rows, concatenated JSON objects (not an array): the new booking
    # and the old one canceled to reschedule
    new, old = rows_of(answer)
    assert (new["status"], old["status"], old["rescheduled"]) == ("active", "canceled", True)
    assert base64.b64decode(answer["data"]).decode().startswith("{")
    assert tally.rows == 2


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not base64!!", "not_json"),
        (b"not json", "not_json"),
        (b"\xff\xfe", "not_json"),
        (b"[1, 2]", "not_an_event"),
        (b'{"detail-type": "Something Else", "time": "2026-11-20T09:00:05Z", "detail": {}}', "unknown_kind"),
        (b'{"detail-type": "Booking Scheduled", "detail": {"event_id": "x"}}', "incomplete"),
        (b'{"detail-type": "Booking Scheduled", "time": "2026-11-20T09:00:05Z", "detail": {}}', "incomplete"),
        (b'{"detail-type": "Booking Scheduled", "time": "2026-11-20T09:00:05Z", "detail": "x"}', "incomplete"),
    ],
)
def test_a_record_it_cannot_map_fails_to_the_error_prefix_alone(payload: bytes | str, reason: str) -> None:
    # Given a batch with one good event and one record that is not a lake event
    (scheduled,) = every_event([event_body("invitee_created.json")])
    event = firehose(of(scheduled), payload)
    # When it is transformed
    response, tally = transform(event)
    good, bad = response["records"]
    # Then the good one is kept and the bad one fails alone, with its data as given (for the error prefix)
    assert good["result"] == "Ok"
    assert bad == {"recordId": "r1", "result": "ProcessingFailed", "data": event["records"][1]["data"]}
    assert (tally.ok, tally.failed, tally.reasons) == (1, 1, {reason: 1})


def test_a_batch_without_records_or_with_a_record_without_an_id_does_not_crash() -> None:
    assert transform({}) == ({"records": []}, transform({})[1])
    response, tally = transform({"records": [{"data": "e30="}, "junk"]})
    assert response == {"records": []}
    assert tally.failed == 2


def test_no_personal_data_from_any_real_fixture_reaches_a_lake_row() -> None:
    # Given every real Calendly fixture's lifecycle events, as the stream receives them
    bodies = list(fixture_bodies().values())
    events = [event for body in bodies for event in every_event([body])]
    response, _ = transform(firehose(*(of(e) for e in events)))
    # Then no personal value of any payload is in any row the lake writes
    secrets = {text for body in bodies for text in personal_values(json.loads(body))}
    rows = [LakeRecord.model_validate(row) for a in response["records"] if a["result"] == "Ok" for row in rows_of(a)]
    assert rows
    assert leaks(secrets, rows) == set()


# ------------------------------------------------------------------ the Lambda handler
def _handler() -> Any:
    return load_app("lake_transformer", "calsync_fn_lake_transformer_unit").lambda_handler


def test_the_handler_counts_failed_records_in_one_metric_line_and_logs_no_clean_batch(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    handler = _handler()
    (scheduled,) = every_event([event_body("invitee_created.json")])
    caplog.set_level("INFO", logger="calsync")
    # When a clean batch is transformed, Then it answers every record and writes nothing
    clean = handler(firehose(of(scheduled)), None)
    assert [a["result"] for a in clean["records"]] == ["Ok"]
    assert capsys.readouterr().out == ""
    assert [r for r in caplog.records if r.name == "calsync"] == []
    # When a batch holds two records it cannot map
    answer = handler(firehose(of(scheduled), b"nope", b"[]"), None)
    assert [a["result"] for a in answer["records"]] == ["Ok", "ProcessingFailed", "ProcessingFailed"]
    out = capsys.readouterr().out
    # Then LakeRecordsFailed counts 2 (EMF), and one warning holds counts and reasons, no record's content
    metric = next(json.loads(line) for line in out.splitlines() if '"_aws"' in line)
    assert metric["LakeRecordsFailed"] in (2.0, [2.0])
    (warning,) = [r for r in caplog.records if r.name == "calsync"]
    assert (warning.levelname, warning.getMessage()) == ("WARNING", "lake records failed")
    assert "nope" not in out + caplog.text
