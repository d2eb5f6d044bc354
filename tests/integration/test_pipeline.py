"""Receiver → SQS → processor → DynamoDB, in-process on moto, provisioned from template.yaml."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from calsync.errors import DependencyUnavailable
from calsync.store import clients
from calsync.store.keys import KEY_ATTRIBUTES
from calsync.store.views import ITEM_TYPES, Booking, StoredDelivery
from calsync_dev.events import api_gateway_event
from tests.factories import KEY, event_body, fixture_bodies, vary
from tests.integration.conftest import Pipeline

EVENT_UUID = "DEMOEVENT0000001"


def invitee(pipeline: Pipeline, event_uuid: str, invitee_uuid: str) -> Booking:
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
    assert archived["body"] == body.decode()
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
    assert other["event"] == "meeting_recap.created"
    assert other["body"] == body.decode()


def test_reads_return_typed_views_without_table_keys(pipeline: Pipeline) -> None:
    # Given a booking, its routing-form submission and an unmodelled event are stored
    for name in ("invitee_created.json", "routing_form_submission_created.json", "unknown_event.json"):
        pipeline.post(event_body(name))
    pipeline.drain()
    stored = {(i["PK"], i["SK"]): i for i in pipeline.items()}
    # When every item type is read back through the repository
    views = [v for t in sorted(ITEM_TYPES) for v in pipeline.repo.scan_type(t)]
    # Then each view carries every stored attribute except the table's keys
    assert len(views) == len(stored)
    assert sorted((v.attributes for v in views), key=json.dumps) == sorted(
        ({k: v for k, v in i.items() if k not in KEY_ATTRIBUTES} for i in stored.values()), key=json.dumps
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
    from datetime import UTC, datetime

    window = pipeline.repo.events_for_tenant(
        "acme", start=datetime(2026, 12, 2, tzinfo=UTC), end=datetime(2026, 12, 4, tzinfo=UTC)
    )
    assert [e.uri.rsplit("/", 1)[-1] for e in window] == ["DEMOEVENT0000002", "DEMOEVENT0000003"]
    assert [e.event_uuid for e in window] == ["DEMOEVENT0000002", "DEMOEVENT0000003"]


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
    huge = json.dumps(
        {"event": "invitee.created", "created_at": "2026-01-01T00:00:00Z", "payload": {"x": "a" * 200_000}}
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
    assert archived["body"].encode() == body
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
    from calsync.store.bookings import DynamoBookingsRepository

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
    from calsync.store.bookings import DynamoBookingsRepository

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
