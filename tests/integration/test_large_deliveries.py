"""Deliveries too large for a queue message (issue 16, defect 5): the body goes to the
delivery-bodies bucket, the message carries its key, and everything downstream (processing,
archive, replay, quarantine, erasure) treats it as it treats any delivery."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from calsync.aws.views import StoredBooking, StoredDelivery
from calsync.erasure.erase import erase
from calsync.errors import DependencyUnavailable
from calsync.intake.aws_bodies import S3DeliveryBodies
from calsync.intake.delivery import BODIES_PREFIX, BODY_KEY, QUEUE_MESSAGE_MAX_BYTES
from calsync.replay.replay import Selection, replay, select
from calsync_dev import template
from calsync_dev.cli.erase import services
from tests.factories import after_samples, event_json, padded
from tests.iam import not_granted, recorded_calls
from tests.integration.conftest import Pipeline
from tests.integration.test_erasure import ADA, target_of

SIZE = 300 * 1024
INVITEE = ("DEMOEVENT0000001", "INVITEE00000001")


def bodies(pipeline: Pipeline) -> S3DeliveryBodies:
    return S3DeliveryBodies(pipeline.stack.names["DeliveryBodiesBucket"], boto3.client("s3"))


def waiting(pipeline: Pipeline, queue: str = "InviteeCreatedQueue") -> list[dict[str, Any]]:
    """The queue's messages, looked at and left there."""
    url = pipeline.stack.queue_urls[queue]
    found = pipeline.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0
    ).get("Messages", [])
    return list(found)


def booking(pipeline: Pipeline) -> StoredBooking:
    [found] = [b for b in pipeline.repo.all_bookings() if (b.event_uuid, b.invitee_uuid) == INVITEE]
    return found


def test_a_300_kib_delivery_travels_through_the_bucket_and_is_stored_as_if_small(pipeline: Pipeline) -> None:
    # Given a signed invitee.created over the queue's 256 KiB message limit
    large = padded("invitee_created.json", SIZE)
    # When Calendly delivers it
    response = pipeline.post(large)
    # Then it is accepted; the bucket holds the exact signed bytes, and the message only their key
    assert response["statusCode"] == 202
    [message] = waiting(pipeline)
    key = message["MessageAttributes"][BODY_KEY]["StringValue"]
    assert message["Body"] == key
    assert len(message["Body"]) < 200
    assert bodies(pipeline).get(key) == large
    # When the processor runs
    assert pipeline.drain() == 1
    stored = booking(pipeline)
    # Then the booking is the one the same delivery without its unmodelled extra field stores
    small = json.dumps(event_json("invitee_created.json")).encode()
    pipeline.repo.client.delete_item(
        TableName=pipeline.repo.table_name,
        Key={"PK": {"S": f"EVENT#{INVITEE[0]}"}, "SK": {"S": f"INVITEE#{INVITEE[1]}"}},
    )
    pipeline.repo.client.delete_item(
        TableName=pipeline.repo.table_name, Key={"PK": {"S": f"EVENT#{INVITEE[0]}"}, "SK": {"S": "EVENT"}}
    )
    assert pipeline.post(small)["statusCode"] == 202
    assert pipeline.drain() == 1
    assert booking(pipeline) == stored
    assert stored.email == ADA
    # And the archive keeps the large body's key (the bucket expires it with the archive's TTL)
    [archived] = [d for d in pipeline.repo.archived() if d.body_key]
    assert (archived.body, archived.body_key) == (None, key)


def test_a_delivery_under_the_limit_travels_in_the_message_as_before(pipeline: Pipeline) -> None:
    # Given a body whose whole message is just under 256 KiB
    body = padded("invitee_created.json", QUEUE_MESSAGE_MAX_BYTES - 1024)
    # When it is delivered, Then the message is the body itself and the bucket stays empty
    assert pipeline.post(body)["statusCode"] == 202
    [message] = waiting(pipeline)
    assert message["Body"].encode() == body
    assert BODY_KEY not in message["MessageAttributes"]
    assert list(bodies(pipeline).stored_keys()) == []


def test_a_retried_large_delivery_is_one_object_and_one_change(pipeline: Pipeline) -> None:
    large = padded("invitee_created.json", SIZE)
    assert pipeline.post(large)["statusCode"] == 202
    assert pipeline.post(large)["statusCode"] == 202  # Calendly's retry
    assert pipeline.drain() == 2
    assert len(list(bodies(pipeline).stored_keys())) == 1
    assert len([d for d in pipeline.repo.archived() if d.body_key]) == 1


def test_an_archived_large_delivery_replays_through_the_bucket(pipeline: Pipeline) -> None:
    # Given a large delivery processed and archived by key
    assert pipeline.post(padded("invitee_created.json", SIZE))["statusCode"] == 202
    pipeline.drain()
    # When the operator replays the window
    target = target_of(pipeline.stack)
    target = replace(target, bodies_bucket=pipeline.stack.names["DeliveryBodiesBucket"])
    now = datetime.now(UTC)
    items = select(pipeline.repo, Selection(now - timedelta(hours=1), now + timedelta(hours=1)))
    assert [item.body_key is not None for item in items] == [True]
    replay_id, enqueued = replay(items, target.delivery_queue(), bodies=target.bodies())
    # Then it is enqueued by key again and processed as unchanged
    assert enqueued == 1
    assert BODY_KEY in waiting(pipeline)[0]["MessageAttributes"]
    pipeline.drain()
    assert pipeline.repo.replay_counts(replay_id)["unchanged"] == 1


def test_a_large_delivery_that_can_never_be_modelled_is_quarantined_with_its_body(pipeline: Pipeline) -> None:
    # Given a large, signed invitee.created whose invitee URI is not one
    data = json.loads(padded("invitee_created.json", SIZE))
    data["payload"]["uri"] = "not-an-invitee-uri"
    assert pipeline.post(json.dumps(data).encode())["statusCode"] == 202
    # When it is processed, Then it is quarantined, its body readable for a replay after a fix
    pipeline.drain()
    [quarantined] = pipeline.repo.archived(quarantined=True)
    assert isinstance(quarantined, StoredDelivery)
    assert quarantined.body is not None
    assert json.loads(quarantined.body)["payload"]["uri"] == "not-an-invitee-uri"


def test_a_message_whose_body_is_gone_is_quarantined_holding_no_ones_data(pipeline: Pipeline) -> None:
    # Given a large delivery queued, and its body erased or expired before it was processed
    assert pipeline.post(padded("invitee_created.json", SIZE))["statusCode"] == 202
    store = bodies(pipeline)
    for key in list(store.stored_keys()):
        store.delete(key)
    # When it is processed, Then it is quarantined (never retried into the DLQ) with no address in it
    pipeline.drain()
    assert pipeline.total_depth() == 0
    [quarantined] = pipeline.repo.archived(quarantined=True)
    assert ADA not in json.dumps(quarantined.attributes, default=str)
    assert pipeline.repo.all_bookings() == []


@pytest.mark.parametrize("processed", [True, False], ids=["stored", "still-queued"])
def test_erasure_removes_the_persons_large_body_from_the_bucket(pipeline: Pipeline, processed: bool) -> None:
    # Given Ada's large delivery, processed (archived by key) or still waiting in its queue
    assert pipeline.post(padded("invitee_created.json", SIZE))["statusCode"] == 202
    if processed:
        pipeline.drain()
    store = bodies(pipeline)
    assert len(list(store.stored_keys())) == 1
    # When Ada is erased
    target = replace(target_of(pipeline.stack), bodies_bucket=pipeline.stack.names["DeliveryBodiesBucket"])
    report = erase(ADA, services(target, wait_seconds=0), principal="test")
    # Then the bucket holds nothing of hers, nor the table or the queue
    assert list(store.stored_keys()) == []
    assert report.counts["bodies"] == 1
    assert pipeline.repo.archived() == []
    assert pipeline.total_depth() == 0


def test_erasure_redacts_someone_elses_large_body_that_names_the_person(pipeline: Pipeline) -> None:
    # Given Grace's large delivery whose answers name Ada
    data = json.loads(padded("invitee_created.json", SIZE))
    data["payload"].update(
        email="grace@example.com",
        uri="https://api.calendly.com/scheduled_events/DEMOEVENT0000001/invitees/GRACE00000000001",
        questions_and_answers=[{"question": "Who else?", "answer": ADA, "position": 0}],
    )
    assert pipeline.post(json.dumps(data).encode())["statusCode"] == 202
    pipeline.drain()
    # When Ada is erased
    target = replace(target_of(pipeline.stack), bodies_bucket=pipeline.stack.names["DeliveryBodiesBucket"])
    erase(ADA, services(target, wait_seconds=0), principal="test")
    # Then Grace's body stays, without Ada's address
    store = bodies(pipeline)
    [key] = list(store.stored_keys())
    text = (store.get(key) or b"").decode()
    assert "grace@example.com" in text
    assert ADA not in text


def s3_statements(function: str) -> list[dict[str, Any]]:
    resource = template.load()["Resources"][function]
    return [
        statement
        for policy in resource["Properties"]["Policies"]
        for statement in policy.get("Statement", [])
        if "s3:" in str(statement["Action"])
    ]


def test_each_function_may_make_exactly_the_s3_calls_it_makes_and_only_under_the_bodies_prefix(
    pipeline: Pipeline,
) -> None:
    # Given every AWS call recorded with its parameters (the bucket and the key checked, not only the action)
    with recorded_calls() as calls:
        # When the receiver takes a large delivery, Then it only puts it, as its policy grants
        assert pipeline.post(padded("invitee_created.json", SIZE))["statusCode"] == 202
        put = [call for call in calls if call.service == "s3"]
        assert {call.action for call in put} == {"s3:PutObject"}
        assert not_granted("ReceiverFunction", put) == []
        # When the processor applies it, Then it only reads it back, as its policy grants
        calls.clear()
        pipeline.drain()
        read = [call for call in calls if call.service == "s3"]
        assert {call.action for call in read} == {"s3:GetObject"}
        assert not_granted("InviteeCreatedProcessor", read) == []
    # And every object grant is on the bodies' prefix of the one bucket, never the bucket's other
    # keys nor another bucket (the reconciler puts repairs as the receiver does); a processor may
    # list the bucket so that a body erased or expired reads as gone (404), not as refused (403)
    prefix = {"Fn::Sub": f"${{DeliveryBodiesBucket.Arn}}/{BODIES_PREFIX}*"}
    bucket = {"Fn::GetAtt": ["DeliveryBodiesBucket", "Arn"]}
    reader = [(["s3:GetObject", "s3:DeleteObject"], prefix), ("s3:ListBucket", bucket)]
    grants: list[tuple[str, list[tuple[Any, Any]]]] = [
        ("ReceiverFunction", [("s3:PutObject", prefix)]),
        ("ReconcilerFunction", [("s3:PutObject", prefix)]),
        ("InviteeCreatedProcessor", reader),
        ("OtherProcessor", reader),
    ]
    for function, allowed in grants:
        assert [(s["Action"], s["Resource"]) for s in s3_statements(function)] == allowed


def test_when_the_bucket_refuses_the_body_the_answer_is_503_and_nothing_is_enqueued(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given S3 refusing the put (throttled, down)
    def refuse(self: S3DeliveryBodies, key: str, body: bytes) -> None:
        raise DependencyUnavailable("s3:PutObject (delivery body) failed: SlowDown")

    monkeypatch.setattr(S3DeliveryBodies, "put", refuse)
    # When a large delivery arrives, Then Calendly is told to retry, and no message points at nothing
    response = pipeline.post(padded("invitee_created.json", SIZE))
    assert (response["statusCode"], response["json"]["error"]) == (503, "unavailable")
    assert pipeline.total_depth() == 0


def test_a_resent_large_delivery_about_an_erased_person_leaves_no_body_in_the_bucket(pipeline: Pipeline) -> None:
    # Given Ada's large delivery, stored, and Ada erased
    large = padded("invitee_created.json", SIZE)
    assert pipeline.post(large)["statusCode"] == 202
    pipeline.drain()
    target = replace(target_of(pipeline.stack), bodies_bucket=pipeline.stack.names["DeliveryBodiesBucket"])
    erase(ADA, services(target, wait_seconds=0), principal="test", now=after_samples)
    # When Calendly sends the same delivery again (a retry from before the erasure)
    assert pipeline.post(large)["statusCode"] == 202
    assert len(list(bodies(pipeline).stored_keys())) == 1  # the receiver cannot know: it keeps it for the processor
    pipeline.drain()
    # Then the processor refuses it and deletes its body: nothing of Ada's is kept anywhere
    assert list(bodies(pipeline).stored_keys()) == []
    assert pipeline.repo.all_bookings() == []


def test_the_local_stacks_saved_state_keeps_the_large_bodies(pipeline: Pipeline) -> None:
    # Given a large delivery waiting in its queue, its body in the bucket
    from calsync_dev.local.state import export_state, import_state

    assert pipeline.post(padded("invitee_created.json", SIZE))["statusCode"] == 202
    session = boto3.Session(region_name="us-east-1")
    # When the local stack saves its state, the emulator starts empty, and the state is restored
    state = json.loads(json.dumps(export_state(session, pipeline.stack)))
    store = bodies(pipeline)
    for key in list(store.stored_keys()):
        store.delete(key)
    import_state(session, pipeline.stack, state)
    # Then the message and its body are back, and the delivery is stored
    pipeline.drain()
    assert booking(pipeline).email == ADA
