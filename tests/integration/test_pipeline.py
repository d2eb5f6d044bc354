"""Receiver → SQS → processor → DynamoDB, in-process on moto, provisioned from template.yaml."""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from calsync.aws import clients
from calsync.aws.keys import KEY_ATTRIBUTES
from calsync.aws.views import ITEM_TYPES, StoredBooking, StoredDelivery, view
from calsync.errors import DependencyUnavailable
from calsync_dev.events import api_gateway_event
from tests.factories import KEY, event_body, event_json, fixture_bodies, vary
from tests.integration.conftest import Pipeline

EVENT_UUID = "DEMOEVENT0000001"


def invitee(pipeline: Pipeline, event_uuid: str, invitee_uuid: str) -> StoredBooking:
    [item] = [i for i in pipeline.repo.scheduled_event(event_uuid).invitees if i.invitee_uuid == invitee_uuid]
    return item


@pytest.mark.parametrize("name", sorted(fixture_bodies()))
def test_every_fixture_is_accepted_and_persisted(pipeline: Pipeline, name: str) -> None:
    # Given a real Calendly delivery
    body = fixture_bodies()[name]
    # When it is posted signed and the queues are drained
    response = pipeline.post(body)
    assert response["statusCode"] == 202
    assert response["json"] == {"status": "accepted"}
    assert pipeline.drain() == 1
    # Then its state is in the table, and its raw envelope is archived with a TTL
    payload = json.loads(body)["payload"]
    items = pipeline.items()
    [archived] = [i for i in items if i["type"] == "delivery"]
    assert view(archived).body == body.decode()
    assert archived["expires_at"] > 0
    if "invitees/" in payload.get("uri", ""):
        [stored] = [i for i in items if i.get("uri") == payload["uri"] and i["type"] == "invitee"]
        assert stored["status"] == payload["status"]
        assert stored["email"] == payload["email"]
    else:
        assert next(i for i in items if i["type"] == "routing_form_submission")["uri"] == payload["uri"]
    assert pipeline.total_depth() == 0


def test_a_booking_then_its_cancellation_lands_canceled_with_details(pipeline: Pipeline) -> None:
    pipeline.post(event_body("invitee_created.json"))
    pipeline.post(event_body("invitee_canceled.json"))
    pipeline.drain()
    item = invitee(pipeline, EVENT_UUID, "INVITEE00000001")
    assert item.status == "canceled"
    assert item.cancellation["reason"] == "Conflict"
    assert item.start_time == "2026-12-01T15:00:00Z"


def test_a_stale_delivery_after_a_newer_one_changes_nothing(pipeline: Pipeline) -> None:
    # Given the cancellation is processed before the (older) creation
    pipeline.post(event_body("invitee_canceled.json"))
    pipeline.drain()
    before = pipeline.items()
    # When the creation arrives late
    pipeline.post(event_body("invitee_created.json"))
    pipeline.drain()
    # Then only the archive grew: the invitee stays canceled
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").status == "canceled"
    after = [i for i in pipeline.items() if i["type"] != "delivery"]
    assert after == [i for i in before if i["type"] != "delivery"]


def test_canceled_wins_a_tie_on_updated_at(pipeline: Pipeline) -> None:
    stamp = "2026-11-20T09:00:00.120000Z"
    canceled = vary("invitee_canceled.json", updated_at=stamp)
    for body in (canceled, event_body("invitee_created.json")):
        pipeline.post(body)
        pipeline.drain()
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").status == "canceled"


def current_and_2020_shape(stamp_2020: str) -> tuple[bytes, bytes]:
    """Ada's creation as delivered today, and a 2020-shape delivery of her (no
    ``created_by``, no ``scheduled_event``) updated at ``stamp_2020``."""
    old_shape = event_json("invitee_created.json")
    del old_shape["created_by"], old_shape["payload"]["scheduled_event"]
    old_shape["payload"].update(updated_at=stamp_2020, name="Ada King")
    return event_body("invitee_created.json"), json.dumps(old_shape).encode()


def test_an_older_delivery_adds_the_start_time_a_newer_2020_shape_one_lacked(pipeline: Pipeline) -> None:
    # Given a newer 2020-shape delivery of Ada (no scheduled event) arrived first
    current, old_shape = current_and_2020_shape("2026-11-20T09:30:00.000000Z")
    pipeline.post(old_shape)
    pipeline.drain()
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").start_time is None
    # When the older, current-shape delivery arrives late
    pipeline.post(current)
    pipeline.drain()
    # Then the newer state stands, with the start time only the older one carried
    ada = invitee(pipeline, EVENT_UUID, "INVITEE00000001")
    assert (ada.name, ada.start_time, ada.event_name) == ("Ada King", "2026-12-01T15:00:00Z", "Product demo")
    # And the booking is in its date window
    window = pipeline.repo.bookings_by_email(
        "ada@example.com", start=datetime(2026, 12, 1, tzinfo=UTC), end=datetime(2026, 12, 2, tzinfo=UTC)
    )
    assert [b.invitee_uuid for b in window] == ["INVITEE00000001"]


@pytest.mark.parametrize("first", [0, 1])
def test_an_exact_tie_with_different_content_settles_the_same_whatever_arrives_first(
    pipeline: Pipeline, first: int
) -> None:
    # Given two representations of Ada with the same updated_at and status, names differing
    renamed = event_json("invitee_created.json")
    renamed["payload"]["name"] = "Ada King"
    bodies = [event_body("invitee_created.json"), json.dumps(renamed).encode()]
    # When they arrive in either order
    for body in (bodies[first], bodies[1 - first]):
        pipeline.post(body)
        pipeline.drain()
    # Then the same one wins in both orders (the content tie-breaker, not the arrival)
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").name == "Ada Lovelace"


def test_a_duplicate_delivery_with_a_new_signature_is_acknowledged_and_changes_nothing(pipeline: Pipeline) -> None:
    body = event_body("invitee_created.json")
    pipeline.post(body)
    pipeline.drain()
    before = pipeline.items()
    # When Calendly re-sends the same body, signed again later
    assert pipeline.post(body, timestamp=None)["statusCode"] == 202
    pipeline.drain()
    assert pipeline.items() == before
    assert pipeline.total_depth() == 0


@pytest.mark.parametrize("order", [("old", "new"), ("new", "old")])
def test_a_reschedule_is_linked_both_ways_in_either_order(pipeline: Pipeline, order: tuple[str, str]) -> None:
    bodies = {
        "old": event_body("invitee_rescheduled_canceled_old.json"),
        "new": event_body("invitee_rescheduled_created_new.json"),
    }
    for which in order:
        pipeline.post(bodies[which])
        pipeline.drain()
    old = invitee(pipeline, "DEMOEVENT0000002", "INVITEE00000002")
    new = invitee(pipeline, "DEMOEVENT0000003", "INVITEE00000003")
    assert old.status == "canceled"
    assert old.rescheduled is True
    assert old.rescheduled_to == new.uri
    assert new.rescheduled_from == old.uri
    assert new.status == "active"


@pytest.mark.parametrize("order", [("created", "deleted"), ("deleted", "created")])
def test_no_show_mark_and_unmark_converge_whatever_the_order(pipeline: Pipeline, order: tuple[str, str]) -> None:
    pipeline.post(event_body("invitee_created.json"))
    for which in order:
        pipeline.post(event_body(f"invitee_no_show_{which}.json"))
    pipeline.drain()
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").no_show is None


def test_a_no_show_mark_is_kept(pipeline: Pipeline) -> None:
    pipeline.post(event_body("invitee_no_show_created.json"))
    pipeline.drain()
    item = invitee(pipeline, EVENT_UUID, "INVITEE00000001")
    assert item.no_show["uri"].endswith("/invitee_no_shows/NOSHOW0000000001")


def test_a_routing_form_submission_is_stored_under_its_submitter(pipeline: Pipeline) -> None:
    pipeline.post(event_body("routing_form_submission_created.json"))
    pipeline.post(event_body("invitee_created.json"))
    pipeline.drain()
    stored = pipeline.repo.scheduled_event(EVENT_UUID)
    [submission] = stored.submissions
    assert submission.attributes["questions_and_answers"][0]["answer"] == "IT & Software"
    assert (submission.event_uuid, submission.invitee_uuid) == (EVENT_UUID, "INVITEE00000001")
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").routing_form_submission == submission.uri


def test_unknown_events_are_kept_whole(pipeline: Pipeline) -> None:
    body = event_body("unknown_event.json")
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    [other] = [i for i in pipeline.items() if i["type"] == "other"]
    assert other["event"] == "availability_schedule.updated"
    assert view(other).body == body.decode()


def as_text(item: dict[str, Any]) -> dict[str, Any]:
    """A raw item with its compressed body (``body_z``) decoded, as a read view gives it."""
    if "body_z" not in item:
        return item
    body = zlib.decompress(item["body_z"]).decode()
    return {**{k: v for k, v in item.items() if k != "body_z"}, "body": body}


def test_reads_return_typed_views_without_table_keys(pipeline: Pipeline) -> None:
    # Given a booking, its routing-form submission and an unmodelled event are stored
    for name in ("invitee_created.json", "routing_form_submission_created.json", "unknown_event.json"):
        pipeline.post(event_body(name))
    pipeline.drain()
    stored = {(i["PK"], i["SK"]): i for i in pipeline.items()}
    # When every item type is read back through the repository
    views = [v for t in sorted(ITEM_TYPES) for v in pipeline.repo.scan_type(t)]
    # Then each view carries every stored attribute except the table's keys (a kept body,
    # stored zlib-compressed, as the text it is)
    assert len(views) == len(stored)
    assert sorted((v.attributes for v in views), key=json.dumps) == sorted(
        ({k: v for k, v in as_text(i).items() if k not in KEY_ATTRIBUTES} for i in stored.values()), key=json.dumps
    )
    assert all(not KEY_ATTRIBUTES & set(v.attributes) for v in views)
    # And the ids the keys hold are typed fields
    [booking] = pipeline.repo.all_bookings()
    assert (booking.event_uuid, booking.invitee_uuid, booking.email) == (
        EVENT_UUID,
        "INVITEE00000001",
        "ada@example.com",
    )
    [archived] = [
        v for v in views if isinstance(v, StoredDelivery) and v.type == "delivery" and v.event == "invitee.created"
    ]
    assert archived.body == event_body("invitee_created.json").decode()
    assert (f"DELIVERY#{archived.body_sha256}", "DELIVERY") in stored


def test_the_design_queries_answer_in_one_query_each(pipeline: Pipeline) -> None:
    for name in (
        "invitee_created.json",
        "invitee_rescheduled_canceled_old.json",
        "invitee_rescheduled_created_new.json",
    ):
        pipeline.post(event_body(name))
    pipeline.drain()
    event = pipeline.repo.scheduled_event(EVENT_UUID)
    assert event.event is not None
    assert event.event.event_uuid == EVENT_UUID
    assert [i.invitee_uuid for i in event.invitees] == ["INVITEE00000001"]
    assert event.submissions == []
    grace = pipeline.repo.bookings_by_email("Grace@Example.com")
    assert [b.start_time for b in grace] == ["2026-12-02T10:00:00Z", "2026-12-03T10:00:00Z"]
    window = pipeline.repo.events_for_tenant(
        "acme", start=datetime(2026, 12, 2, tzinfo=UTC), end=datetime(2026, 12, 4, tzinfo=UTC)
    )
    assert [e.uri.rsplit("/", 1)[-1] for e in window] == ["DEMOEVENT0000002", "DEMOEVENT0000003"]
    assert [e.event_uuid for e in window] == ["DEMOEVENT0000002", "DEMOEVENT0000003"]


def post_booking_at(pipeline: Pipeline, n: int, start: str) -> None:
    """Grace books event ``SUBSECONDEVENT000<n>`` starting at ``start``."""
    body = event_json("invitee_created.json")
    event_uri = f"https://api.calendly.com/scheduled_events/SUBSECONDEVENT000{n}"
    body["payload"].update(email="grace@example.com", event=event_uri, uri=f"{event_uri}/invitees/SUBSECINVITEE00{n}")
    body["payload"]["scheduled_event"].update(uri=event_uri, start_time=start, end_time=start)
    pipeline.post(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (("10:00:00", "10:00:01"), ["10:00:00", "10:00:00.5", "10:00:01"]),
        (("10:00:00.5", "10:00:00.5"), ["10:00:00.5"]),
        (("10:00:00", "10:00:00"), ["10:00:00"]),
        (("10:00:00.000001", "10:00:00.999999"), ["10:00:00.5"]),
        (("10:00:00.6", "10:00:02"), ["10:00:01"]),
        (("09:00:00", "10:00:00.4"), ["09:59:59.9", "10:00:00"]),
    ],
)
def test_date_windows_compare_sub_second_start_times_as_times(
    pipeline: Pipeline, window: tuple[str, str], expected: list[str]
) -> None:
    # Given bookings (and their events) starting around 10:00, one of them at 10:00:00.5
    starts = ["09:59:59.9", "10:00:00", "10:00:00.5", "10:00:01"]
    for n, start in enumerate(reversed(starts)):
        post_booking_at(pipeline, n, f"2026-12-01T{start}Z")
    pipeline.drain()
    lo, hi = (datetime.fromisoformat(f"2026-12-01T{t}+00:00") for t in window)
    # When a window is asked of both indexes
    by_email = pipeline.repo.bookings_by_email("grace@example.com", start=lo, end=hi)
    by_tenant = pipeline.repo.events_for_tenant("acme", start=lo, end=hi)
    # Then exactly the starts inside it come back, in time order
    at = [datetime.fromisoformat(f"2026-12-01T{t}+00:00") for t in expected]
    assert [datetime.fromisoformat(b.start_time or "") for b in by_email] == at
    assert [datetime.fromisoformat(e.start_time or "") for e in by_tenant] == at
    # And without bounds every booking comes back, in time order
    everything = pipeline.repo.bookings_by_email("grace@example.com")
    assert [b.start_time for b in everything] == sorted(
        (b.start_time or "" for b in everything), key=datetime.fromisoformat
    )
    assert len(everything) == len(starts)


def test_date_windows_read_keys_stored_before_in_the_whole_second_spelling(pipeline: Pipeline) -> None:
    # Given bookings whose index keys were stored before sort keys were fixed width
    # (a whole second spelled "...T10:00:00Z#<uuid>")
    starts = ["09:59:59.9", "10:00:00", "10:00:00.5", "10:00:01"]
    for n, start in enumerate(starts):
        post_booking_at(pipeline, n, f"2026-12-01T{start}Z")
    pipeline.drain()
    for item in pipeline.items():
        for sort in ("GSI1SK", "GSI2SK"):
            if sort in item and item[sort].startswith("2026-12-01T10:00:0") and ".000000Z" in item[sort]:
                legacy = item[sort].replace(".000000Z", "Z")
                pipeline.repo.client.update_item(
                    TableName=pipeline.repo.table_name,
                    Key={"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}},
                    UpdateExpression="SET #s = :s",
                    ExpressionAttributeNames={"#s": sort},
                    ExpressionAttributeValues={":s": {"S": legacy}},
                )
    assert any(i.get("GSI1SK", "").startswith("2026-12-01T10:00:00Z#") for i in pipeline.items())
    # When windows are asked whose edges fall on those starts
    lo, hi = datetime(2026, 12, 1, 10, tzinfo=UTC), datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC)
    # Then each old key is found where its time belongs, in time order
    expected = ["2026-12-01T10:00:00Z", "2026-12-01T10:00:00.500000Z", "2026-12-01T10:00:01Z"]
    assert [b.start_time for b in pipeline.repo.bookings_by_email("grace@example.com", start=lo, end=hi)] == expected
    assert [e.start_time for e in pipeline.repo.events_for_tenant("acme", start=lo, end=hi)] == expected
    late = pipeline.repo.bookings_by_email("grace@example.com", start=lo + timedelta(milliseconds=1), end=hi)
    assert [b.start_time for b in late] == expected[1:]
    early = pipeline.repo.events_for_tenant("acme", end=hi - timedelta(milliseconds=1))
    assert [e.start_time for e in early] == ["2026-12-01T09:59:59.900000Z", *expected[:2]]


@pytest.mark.parametrize(
    ("change", "status", "error"),
    [
        ({"key": "wrong-key"}, 401, "invalid_signature"),
        ({"timestamp": 1_000_000_000}, 401, "stale_timestamp"),
        ({"connection_id": "unknown-conn"}, 401, "invalid_signature"),
    ],
)
def test_forged_stale_or_unknown_requests_are_rejected_and_nothing_is_enqueued(
    pipeline: Pipeline, change: dict[str, Any], status: int, error: str
) -> None:
    response = pipeline.post(event_body("invitee_created.json"), **change)
    assert (response["statusCode"], response["json"]["error"]) == (status, error)
    assert pipeline.total_depth() == 0


def test_unsigned_and_oversized_requests_are_rejected_and_nothing_is_enqueued(pipeline: Pipeline) -> None:
    unsigned = pipeline.invoke_receiver(api_gateway_event(event_body("invitee_created.json"), connection_id="acme"))
    assert (unsigned["statusCode"], unsigned["json"]["error"]) == (401, "missing_signature")
    huge = json.dumps(  # over the 6,258,688 bytes Lambda can be handed (200 KB is accepted: tests/integration/test_large_deliveries.py)
        {"event": "invitee.created", "created_at": "2026-01-01T00:00:00Z", "payload": {"x": "a" * 6_300_000}}
    )
    oversized = pipeline.post(huge.encode())
    assert (oversized["statusCode"], oversized["json"]["error"]) == (413, "payload_too_large")
    assert pipeline.total_depth() == 0


def test_queue_failure_is_503_and_the_retry_is_not_lost(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given SQS refuses the message (throttled)
    sqs = clients.sqs()

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "SendMessage")

    body = event_body("invitee_created.json")
    with monkeypatch.context() as patch:
        patch.setattr(sqs, "send_message", refuse)
        # When Calendly delivers, it is told to retry
        failed = pipeline.post(body)
        assert (failed["statusCode"], failed["json"]["error"]) == (503, "unavailable")
        assert pipeline.total_depth() == 0
    # And when SQS recovers, Calendly's retry lands
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").status == "active"


# SQS's documented message-body characters; moto accepts any, AWS answers InvalidMessageContents.
SQS_BODY = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")


@pytest.fixture
def strict_sqs(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQS as AWS runs it: a message body with a character outside the documented set is refused."""
    sqs = clients.sqs()
    send = sqs.send_message

    def checked(**kwargs: Any) -> Any:
        if not SQS_BODY.match(kwargs["MessageBody"]):
            raise ClientError({"Error": {"Code": "InvalidMessageContents", "Message": "Invalid"}}, "SendMessage")
        return send(**kwargs)

    monkeypatch.setattr(sqs, "send_message", checked)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param("\ufffe".encode(), id="U+FFFE"),
        pytest.param("\uffff".encode(), id="U+FFFF"),
        pytest.param(b"\\ud83d", id="lone-surrogate-escape"),
        pytest.param(b"\\udc00 and \\ud83d\\ude00", id="lone-and-paired-surrogate-escapes"),
    ],
)
def test_bodies_sqs_would_refuse_arrive_unchanged_in_the_archive(
    pipeline: Pipeline, strict_sqs: None, payload: bytes
) -> None:
    # Given a signed invitee.created whose invitee name holds characters SQS refuses or rewrites
    body = event_body("invitee_created.json").replace(b'"Ada Lovelace"', b'"Ada ' + payload + b'"')
    assert body != event_body("invitee_created.json")
    # When it is posted and the queues are drained
    assert pipeline.post(body)["statusCode"] == 202
    assert pipeline.drain() == 1
    # Then the archived body is exactly the signed bytes, under their hash
    [archived] = [i for i in pipeline.items() if i["type"] == "delivery"]
    assert view(archived).body.encode() == body
    assert archived["PK"] == f"DELIVERY#{hashlib.sha256(body).hexdigest()}"
    # And the booking is stored (nothing quarantined, nothing left queued)
    assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").status == "active"
    assert [i for i in pipeline.items() if i["type"] == "quarantine"] == []
    assert pipeline.total_depth() == 0


def test_secrets_failure_is_503(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = clients.secretsmanager()

    def throttle(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetSecretValue")

    monkeypatch.setattr(secrets, "get_secret_value", throttle)
    response = pipeline.post(event_body("invitee_created.json"))
    assert (response["statusCode"], response["json"]["error"]) == (503, "unavailable")
    assert pipeline.total_depth() == 0


def test_a_failing_record_is_reported_alone_and_the_rest_of_the_batch_lands(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given two deliveries in one batch, one of which the table refuses
    from calsync.bookings.aws_bookings import DynamoBookingsRepository

    pipeline.post(event_body("invitee_created.json"))
    pipeline.post(event_body("invitee_rescheduled_created_new.json"))
    original = DynamoBookingsRepository.upsert_invitee

    def flaky(self: DynamoBookingsRepository, snapshot: Any) -> bool:
        if snapshot.ref.invitee_uuid == "INVITEE00000003":
            raise DependencyUnavailable("dynamodb:UpdateItem (invitee) failed: ProvisionedThroughputExceededException")
        return original(self, snapshot)

    with monkeypatch.context() as patch:
        patch.setattr(DynamoBookingsRepository, "upsert_invitee", flaky)
        # When the batch is processed
        result = pipeline.source("InviteeCreatedQueue").poll_once()
        # Then only that record failed and stays queued; the other is stored
        assert (result.received, result.failed) == (2, 1)
        assert invitee(pipeline, EVENT_UUID, "INVITEE00000001").status == "active"
        assert pipeline.depth("InviteeCreatedQueue") == 1
    # And once the table recovers, the retry lands
    pipeline.drain()
    assert invitee(pipeline, "DEMOEVENT0000003", "INVITEE00000003").status == "active"


def test_a_record_that_keeps_failing_lands_in_the_dlq(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    from calsync.bookings.aws_bookings import DynamoBookingsRepository

    def broken(self: DynamoBookingsRepository, snapshot: Any) -> bool:
        raise DependencyUnavailable("dynamodb:UpdateItem (invitee) failed: InternalServerError")

    monkeypatch.setattr(DynamoBookingsRepository, "upsert_invitee", broken)
    pipeline.post(event_body("invitee_created.json"))
    source = pipeline.source("InviteeCreatedQueue")
    max_receives = pipeline.stack.redrive["InviteeCreatedQueue"]["max_receive_count"]
    for _ in range(max_receives + 1):
        source.poll_once()
    dlq = pipeline.stack.queue_urls[pipeline.stack.redrive["InviteeCreatedQueue"]["dlq"]]
    messages = pipeline.sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])["Messages"]
    assert messages[0]["Body"] == event_body("invitee_created.json").decode()
    assert messages[0]["MessageAttributes"]["connection_id"]["StringValue"] == "acme"


def test_a_verified_delivery_that_fails_its_model_is_quarantined_not_retried(pipeline: Pipeline) -> None:
    body = vary("invitee_created.json", updated_at="not a time")
    assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    [quarantined] = [i for i in pipeline.items() if i["type"] == "quarantine"]
    assert "updated_at" in quarantined["reason"]
    assert pipeline.total_depth() == 0


def test_no_log_line_holds_the_signing_key_or_personal_data_at_info(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level("INFO")
    pipeline.post(event_body("invitee_created.json"))
    pipeline.post(event_body("invitee_created.json"), key="wrong-key")
    pipeline.drain()
    logs = capsys.readouterr().out + "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert "webhook accepted" in logs
    assert "webhook rejected" in logs
    assert KEY not in logs
    assert "ada@example.com" not in logs
    assert "Ada Lovelace" not in logs


def test_the_local_event_source_gathers_a_batch_for_the_template_s_batching_window(pipeline: Pipeline) -> None:
    # Given the local stack's event source for a processor, read from template.yaml (BatchSize 10,
    # MaximumBatchingWindowInSeconds 1 on the processors' SQS events)
    import threading

    import boto3

    from calsync_dev.pump import event_sources
    from tests.integration.conftest import PROCESSORS

    queue = "InviteeCreatedQueue"
    handlers = {function: pipeline.processors[q] for q, function in PROCESSORS.items()}
    session = boto3.Session(region_name="us-east-1")
    sources = dict(event_sources(pipeline.stack, session, lambda name: handlers.get(name, lambda e, c: {})))
    source = sources[PROCESSORS[queue]]
    assert (source.batch_size, source.batching_window_seconds) == (10, 1)
    event = "https://api.calendly.com/scheduled_events/DEMOEVENT0000001"

    def post(n: int) -> None:
        assert pipeline.post(vary("invitee_created.json", uri=f"{event}/invitees/LATE{n}"))["statusCode"] == 202

    # When one delivery is queued and four more arrive while the window is open
    post(0)
    later = threading.Timer(0.3, lambda: [post(n) for n in range(1, 5)])
    later.start()
    result = source.poll_once(wait_seconds=1, gather=True)
    later.join()
    # Then they reach the processor as one batch, as Lambda's event-source mapping hands them over
    assert result.received == 5
    assert pipeline.depth(queue) == 0
