"""Erasure (``calsync erase``): a person is removed from every store, a tombstone keeps them
out, and nothing from before the erasure (retry, replay, re-sent delivery) brings them back."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from calsync.aws.dynamo import scan_items
from calsync.aws.views import StoredDelivery, view
from calsync.calendly.client import CalendlyClient
from calsync.erasure.aws_sweep import TableSweep
from calsync.erasure.aws_tombstones import ErasureAudit
from calsync.erasure.erase import ErasureReport, ErasureStores, erase
from calsync.errors import DependencyUnavailable
from calsync.intake.delivery import Delivery, message_attributes, message_body
from calsync.intake.routing import QueueKind
from calsync.replay.replay import Selection, replay, select
from calsync_dev.cli import main
from calsync_dev.cli.erase import services
from calsync_dev.cli.target import LIFECYCLE_QUEUES, Target
from calsync_dev.fake_calendly import FakeCalendly
from calsync_dev.provision import Stack
from calsync_dev.template import queue_logical_id
from tests.erasure import items_holding
from tests.factories import GRACE, after_samples, event_body, event_json, grace_booking, vary
from tests.integration.conftest import Pipeline
from tests.integration.test_lifecycle import Lifecycle

ADA = "ada@example.com"  # every events/ invitee body is Ada's booking
PAST = "2026-11-20T09:00:00.000000Z"


def target_of(stack: Stack) -> Target:
    queues = {kind: stack.queue_urls[queue_logical_id(kind)] for kind in QueueKind}
    dlqs = {kind: stack.queue_urls[str(stack.dlq_for(queue_logical_id(kind)))] for kind in QueueKind}
    secret = stack.env("InviteeCreatedProcessor")["ERASURE_KEY_SECRET_NAME"]
    return Target(
        None,
        stack.tables["BookingsTable"],
        queues,
        dlqs,
        erasure_key_secret=secret,
        lifecycle_queues={name: stack.queue_urls[name] for name in LIFECYCLE_QUEUES},
    )


@pytest.fixture
def polls_asked(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The command's erase with the queues' long polls cut short, and the waits it asked for: moto
    in-process answers an empty long poll only when the wait ends (1 s a queue, ~16 a sweep)."""
    from calsync import compose

    asked: list[int] = []
    stores = compose.erasure

    def short_polls(*args: Any, wait_seconds: int, **kwargs: Any) -> ErasureStores:
        asked.append(wait_seconds)
        return stores(*args, wait_seconds=0, **kwargs)

    monkeypatch.setattr(compose, "erasure", short_polls)
    return asked


def run_erase(stack: Stack, email: str = ADA, **options: Any) -> ErasureReport:
    options.setdefault("now", after_samples)  # erased after the samples were sent, whatever today's date is
    return erase(email, services(target_of(stack), wait_seconds=0), principal="test", **options)


def submission_with(email: str) -> bytes:
    data = event_json("routing_form_submission_created.json")
    data["payload"]["questions_and_answers"].append({"question_uuid": "q-email", "question": "Email", "answer": email})
    return json.dumps(data).encode()


def other_with(email: str) -> bytes:
    return json.dumps(
        {
            "event": "contact.created",
            "created_at": PAST,
            "payload": {"uri": "https://api.calendly.com/contacts/C1", "email": email.upper()},
        }
    ).encode()


def quarantined_with(email: str) -> bytes:
    data = event_json("invitee_created.json")
    data["payload"]["email"] = email
    data["payload"]["uri"] = "not-an-invitee-uri"  # verified, but can never be modelled
    return json.dumps(data).encode()


def delivery(body: bytes, event: str) -> Delivery:
    import hashlib

    return Delivery(
        connection_id="acme",
        received_at=datetime.now(UTC),
        body_sha256=hashlib.sha256(body).hexdigest(),
        event=event,
        body=body.decode(),
    )


def send_raw(url: str, item: Delivery) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=url,
        MessageBody=message_body(item),
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in message_attributes(item).items()},
    )


ADA_BODIES = [
    event_body("invitee_created.json"),
    event_body("invitee_no_show_created.json"),
    submission_with("Ada@Example.com"),
    other_with(ADA),
    quarantined_with(ADA),
]


@pytest.fixture
def stored(pipeline: Pipeline) -> Pipeline:
    """Ada's booking (with a no-show), her routing-form answer, a kept unknown event naming her and
    a quarantined delivery; Grace's booking; and messages still waiting in a queue, a DLQ and the
    Slack consumer's queue, for each of them."""
    for body in [*ADA_BODIES, grace_booking()]:
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    target = target_of(pipeline.stack)
    # Waiting: Ada's cancellation and Grace's booking in the intake queue, Ada's in a DLQ
    assert pipeline.post(event_body("invitee_canceled.json"))["statusCode"] == 202
    send_raw(target.queues[QueueKind.INVITEE_CREATED], delivery(grace_booking(), "invitee.created"))
    send_raw(target.dlqs[QueueKind.INVITEE_CREATED], delivery(event_body("invitee_created.json"), "invitee.created"))
    # and a lifecycle event about Ada waiting for the Slack notifier
    slack = {"detail-type": "Booking Scheduled", "detail": {"booking": {"email": ADA, "name": "Ada"}}}
    boto3.client("sqs").send_message(QueueUrl=target.lifecycle_queues["SlackQueue"], MessageBody=json.dumps(slack))
    return pipeline


def table_items(pipeline: Pipeline) -> list[dict[str, Any]]:
    return list(scan_items(pipeline.repo.client, "test", TableName=pipeline.repo.table_name))


def found_in_table(pipeline: Pipeline, email: str) -> list[str]:
    """Every item (any type) holding the address, stored bodies decoded through their views."""
    return items_holding(table_items(pipeline), email)


def queue_messages(stack: Stack) -> dict[str, list[str]]:
    """Every message of every queue (received, then made visible again)."""
    sqs, found = boto3.client("sqs"), {}
    for name, url in stack.queue_urls.items():
        messages = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30, MessageAttributeNames=["All"]
        ).get("Messages", []):
            messages += batch
        for message in messages:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        found[name] = [m["Body"] for m in messages]
    return found


def found_in_queues(stack: Stack, email: str) -> list[str]:
    import base64

    from calsync.erasure.rules import carries

    hits = []
    for name, bodies in queue_messages(stack).items():
        for body in bodies:
            decoded = [body]
            with contextlib.suppress(ValueError):
                decoded.append(base64.b64decode(body, validate=True).decode())
            if carries(decoded, email):
                hits.append(name)
    return hits


def test_after_an_erasure_the_address_is_in_no_item_archived_body_or_queued_message(stored: Pipeline) -> None:
    # Given Ada's data in every store (and Grace's beside it)
    assert found_in_table(stored, ADA)
    assert found_in_queues(stored.stack, ADA)
    # When Ada is erased
    report = run_erase(stored.stack)
    # Then a full scan of the table (archived bodies decoded) and of every queue finds her nowhere
    assert found_in_table(stored, ADA) == []
    assert found_in_queues(stored.stack, ADA) == []
    # And it says what it removed, per store
    assert report.counts == {
        "invitees": 1,
        "submissions": 1,
        "archive": 5,  # created, no-show, submission, contact.created, the quarantined body
        "quarantine": 1,
        "contacts": 1,  # her contact.created, a typed contact since issue 21 (was an "other" item)
        "queue InviteeCanceledQueue": 1,
        "queue InviteeCreatedDLQ": 1,
        "queue SlackQueue": 1,
    }
    # And Grace's booking, archive and waiting message are untouched (the message visible again)
    assert [b.email for b in stored.repo.bookings_by_email(GRACE)] == [GRACE]
    assert found_in_queues(stored.stack, GRACE) == ["InviteeCreatedQueue"]
    # And the tombstone keeps only the keyed hash, the time and its scope (global)
    (tombstone,) = [i for i in table_items(stored) if i["type"] == "tombstone"]
    assert set(tombstone) == {"PK", "SK", "type", "address_hash", "erased_at", "scope"}
    assert tombstone["address_hash"] == report.address_hash


def test_replaying_or_resending_the_old_deliveries_does_not_bring_the_person_back(stored: Pipeline) -> None:
    # Given Ada was erased, with a replay of the archive and the same signed bodies sent again after it
    since = datetime.now(UTC) - timedelta(hours=1)
    archived_before = select(stored.repo, Selection(since, datetime.now(UTC) + timedelta(minutes=1)))
    run_erase(stored.stack)
    target = target_of(stored.stack)
    # When every delivery archived before the erasure is replayed (what is left: Grace's) ...
    replay(archived_before, target.delivery_queue())
    # ... and every old delivery of Ada's is re-sent (a retry) and redriven from a DLQ
    for body in [*ADA_BODIES, event_body("invitee_canceled.json")]:
        assert stored.post(body)["statusCode"] == 202
    send_raw(target.dlqs[QueueKind.INVITEE_CREATED], delivery(event_body("invitee_created.json"), "invitee.created"))
    from calsync_dev.cli.dlq import redrive

    redrive(target, QueueKind.INVITEE_CREATED)
    stored.drain()
    # Then Ada is in no item and no queue; Grace is still stored
    assert found_in_table(stored, ADA) == []
    assert found_in_queues(stored.stack, ADA) == []
    assert len(stored.repo.bookings_by_email(GRACE)) == 1


def test_a_booking_made_after_the_erasure_is_stored(stored: Pipeline) -> None:
    # Given Ada was erased
    run_erase(stored.stack)
    # When she books again afterwards
    later = (after_samples() + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    body = vary(
        "invitee_created.json",
        uri="https://api.calendly.com/scheduled_events/DEMOEVENT0000002/invitees/INVITEE00000009",
        created_at=later,
        updated_at=later,
    )
    assert stored.post(body)["statusCode"] == 202
    stored.drain()
    # Then that booking is stored normally (and only it)
    assert [b.invitee_uuid for b in stored.repo.bookings_by_email(ADA)] == ["INVITEE00000009"]


def test_a_dry_run_counts_and_changes_nothing(stored: Pipeline) -> None:
    # Given Ada's data everywhere
    items, messages = table_items(stored), queue_messages(stored.stack)
    # When a dry run counts it
    report = run_erase(stored.stack, dry_run=True)
    # Then it counts what a real run removes, and nothing changed: no item, no message, no tombstone
    assert report.counts["invitees"] == 1
    assert report.counts["queue SlackQueue"] == 1
    assert report.erasure_id is None
    assert table_items(stored) == items
    assert queue_messages(stored.stack) == messages


def test_an_erasure_that_failed_halfway_finishes_when_run_again(
    stored: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the table fails after the first item is removed
    removed: list[Any] = []
    real_remove = TableSweep.remove

    def failing(self: TableSweep, found: Any) -> None:
        if removed:
            raise DependencyUnavailable("dynamodb:DeleteItem (erase) failed: InternalServerError")
        removed.append(found)
        real_remove(self, found)

    monkeypatch.setattr(TableSweep, "remove", failing)
    with pytest.raises(DependencyUnavailable):
        run_erase(stored.stack)
    assert found_in_table(stored, ADA)  # only partly done
    # When it is run again, working
    monkeypatch.setattr(TableSweep, "remove", real_remove)
    report = run_erase(stored.stack)
    # Then it finishes: the address is nowhere, and the audit record says what this run removed
    assert found_in_table(stored, ADA) == []
    assert found_in_queues(stored.stack, ADA) == []
    assert report.counts["archive"] == 4
    # And running it once more is harmless: nothing left to remove
    assert run_erase(stored.stack).counts == {}


def test_with_calendly_the_deletion_is_requested_and_recorded(stored: Pipeline) -> None:
    fake = FakeCalendly()
    token = fake.add_pat()
    with CalendlyClient(lambda: token, transport=httpx.MockTransport(fake.httpx_handler)) as calendly:
        report = run_erase(stored.stack, calendly=[("acme", calendly)])
    # Then Calendly was asked to delete Ada's data, and the audit record says it accepted
    assert fake.deletion_requests == [[ADA]]
    assert report.calendly == {"acme": "accepted (202): Calendly deletes asynchronously, within 7 days"}
    (record,) = ErasureAudit(stored.repo.table_name, stored.repo.client).records()
    assert record["calendly"] == report.calendly
    assert record["principal"] == "test"
    assert record["counts"]["invitees"] == 1


def test_without_an_enterprise_plan_calendly_refuses_and_the_local_erasure_still_happens(stored: Pipeline) -> None:
    fake = FakeCalendly(enterprise=False)
    token = fake.add_pat()
    with CalendlyClient(lambda: token, transport=httpx.MockTransport(fake.httpx_handler)) as calendly:
        report = run_erase(stored.stack, calendly=[("acme", calendly)])
    assert report.calendly["acme"].startswith("refused (403): data-compliance deletion needs an Enterprise plan")
    assert found_in_table(stored, ADA) == []
    (record,) = ErasureAudit(stored.repo.table_name, stored.repo.client).records()
    assert record["calendly"] == report.calendly


def names_ada(document: object) -> bool:
    """Whether a document names Ada: her address or her name (its ids and hashes are hex and
    may well hold the letters "ada", so a bare "ada" is no evidence)."""
    text = json.dumps(document).lower()
    return any(part in text for part in (ADA, "ada@", "lovelace"))


def test_the_audit_record_and_the_erased_event_carry_no_personal_data(stored: Pipeline) -> None:
    # Given the lifecycle publisher reading the table's stream
    lifecycle = Lifecycle(stored)
    assert "Booking Scheduled" in [e["detail-type"] for e in lifecycle.deliver()]
    # When Ada is erased
    report = run_erase(stored.stack)
    events = lifecycle.deliver()  # validates each against its committed schema
    # Then exactly one Invitee Erased is published (the deletions publish nothing: no cancellation)
    assert [e["detail-type"] for e in events] == ["Invitee Erased"]
    detail = events[0]["detail"]
    assert detail["address_hash"] == report.address_hash
    assert not names_ada(detail)
    # And the audit record names neither her address nor her name
    (record,) = ErasureAudit(stored.repo.table_name, stored.repo.client).records()
    assert not names_ada(record)
    assert record["address_hash"] == report.address_hash


def test_the_command_prints_counts_and_lists_the_audit(
    stored: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], polls_asked: list[int]
) -> None:
    target = target_of(stored.stack)
    monkeypatch.setattr("calsync_dev.cli.erase.target_from", lambda args: target)
    monkeypatch.setattr("calsync_dev.cli.erase.principal", lambda target: "arn:aws:iam::123456789012:user/op")
    assert main(["erase", "--email", "ADA@example.com", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run: ADA@example.com: would remove 12 in all" in out
    assert main(["erase", "--email", "ADA@example.com"]) == 0
    out = capsys.readouterr().out
    assert "removed 12 in all" in out
    assert "queue SlackQueue" in out
    # And it reminds the operator that the event archive still holds the person until it ages out
    assert "do not replay archived events from before" in out
    assert "EventArchiveRetentionDays" in out
    assert out.lower().count(ADA) == 1  # only where the operator's own input is echoed
    assert main(["erase", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "by arn:aws:iam::123456789012:user/op" in listed
    assert "1 erasure(s)" in listed
    assert ADA not in listed.lower()
    # And against AWS (no endpoint) each sweep long-polls the queues, so every SQS host is asked
    assert polls_asked
    assert set(polls_asked) == {1}


def test_an_erased_bookings_reminders_fire_harmlessly_and_hold_no_personal_data(stored: Pipeline) -> None:
    from calsync_dev.lambda_runtime import LambdaContext, load_handler

    # Given Ada's booking with its reminders scheduled (the lifecycle publisher ran)
    lifecycle = Lifecycle(stored)
    lifecycle.deliver()
    scheduler = boto3.client("scheduler")
    group = lifecycle.env["SCHEDULE_GROUP_NAME"]
    names = [name for name in lifecycle.schedules() if name.startswith("INVITEE00000001-")]  # Ada's, not Grace's
    assert names
    payloads = [json.loads(scheduler.get_schedule(Name=n, GroupName=group)["Target"]["Input"]) for n in names]
    # Then a schedule holds the invitee's URI and the start, never the address or the name
    assert not any(carries_ada(payload) for payload in payloads)
    # When Ada is erased (her deletions reach no publisher: nothing moves the schedules) and they fire
    run_erase(stored.stack)
    lifecycle.deliver()
    reminder = load_handler(stored.stack.functions["ReminderFunction"], apply_environment=False)
    # Then each finds no booking and publishes nothing (the scheduler then deletes it)
    for payload in payloads:
        assert reminder(payload, LambdaContext("ReminderFunction")) == {"published": None}
    assert lifecycle.deliver() == []


def carries_ada(value: Any) -> bool:
    from calsync.erasure.rules import carries

    return carries(value, ADA) or "Ada" in json.dumps(value)


def test_a_failure_is_reported_without_the_address_and_says_to_run_again(
    stored: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], polls_asked: list[int]
) -> None:
    target = target_of(stored.stack)
    monkeypatch.setattr("calsync_dev.cli.erase.target_from", lambda args: target)

    def failing(self: TableSweep, found: Any) -> None:
        raise DependencyUnavailable("dynamodb:DeleteItem (erase invitees) failed: InternalServerError")

    monkeypatch.setattr(TableSweep, "remove", failing)
    assert main(["erase", "--email", ADA]) == 1
    err = capsys.readouterr().err
    assert "run the same command again to finish" in err
    assert ADA not in err


def test_items_naming_only_the_persons_invitee_are_removed_too(pipeline: Pipeline) -> None:
    # Given Ada's booking, a routing-form submission she made whose answers hold no address, and a
    # no-show delivery that names only her invitee (Calendly's bare no-show shape)
    ada_invitee = event_json("invitee_created.json")["payload"]["uri"]
    no_show = {
        "event": "invitee_no_show.created",
        "created_at": PAST,
        "payload": {"uri": "https://api.calendly.com/invitee_no_shows/NOSHOW1", "invitee": ada_invitee},
    }
    for body in (
        event_body("invitee_created.json"),
        event_body("routing_form_submission_created.json"),  # submitter: Ada's invitee
        json.dumps(no_show).encode(),
    ):
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    # When Ada is erased
    report = run_erase(pipeline.stack)
    # Then nothing naming her invitee is left either
    assert report.counts == {"invitees": 1, "submissions": 1, "archive": 3}
    leftover = [i for i in table_items(pipeline) if ada_invitee in json.dumps(i)]
    assert leftover == []


BOB = "bob@example.com"
BOB_EVENT = "https://api.calendly.com/scheduled_events/DEMOEVENT0000003"


def bob_booking_naming_ada(sample: str = "invitee_created.json") -> bytes:
    """Bob's booking of another event: Ada is his guest, his answer and the event's location name her."""
    data = event_json(sample)
    data["payload"].update(
        email=BOB,
        name="Bob",
        uri=f"{BOB_EVENT}/invitees/BOB000000000001",
        event=BOB_EVENT,
        questions_and_answers=[{"question": "Who else?", "answer": "Ada@Example.com, my colleague", "position": 0}],
    )
    data["payload"]["scheduled_event"].update(
        uri=BOB_EVENT,
        event_guests=[{"email": "ADA@example.com", "created_at": PAST, "updated_at": PAST}],
        location={"type": "custom", "location": "Ada's desk (ask ada@example.com)"},
    )
    return json.dumps(data).encode()


def test_someone_elses_booking_naming_the_person_is_redacted_not_removed(pipeline: Pipeline) -> None:
    # Given Ada's booking, and Bob's whose guest list, answer and event location name Ada
    lifecycle = Lifecycle(pipeline)
    for body in (event_body("invitee_created.json"), bob_booking_naming_ada()):
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    lifecycle.deliver()
    # When Ada is erased
    report = run_erase(pipeline.stack)
    # Then Ada's address is in no item, archived body or event
    assert found_in_table(pipeline, ADA) == []
    # And Ada's own booking and delivery are removed; Bob's invitee, his archived delivery and
    # his event are kept with the address replaced
    assert report.counts == {"invitees": 1, "archive": 1, "redacted": 3}
    (bob,) = pipeline.repo.bookings_by_email(BOB)
    assert "[erased], my colleague" in json.dumps(bob.attributes)
    archived = [view(i) for i in table_items(pipeline) if i.get("type") == "delivery"]
    bodies = [a.body for a in archived if isinstance(a, StoredDelivery) and a.body]
    (body,) = bodies
    assert "BOB000000000001" in body
    assert "[erased]" in body
    events = [i for i in table_items(pipeline) if i.get("type") == "event" and i.get("uri") == BOB_EVENT]
    assert "Ada's desk (ask [erased])" in json.dumps(events)
    # And the redaction publishes nothing but the erasure itself
    assert [e["detail-type"] for e in lifecycle.deliver()] == ["Invitee Erased"]


def test_a_dry_run_counts_what_would_be_redacted(pipeline: Pipeline) -> None:
    # Given Bob's booking naming Ada
    assert pipeline.post(bob_booking_naming_ada())["statusCode"] == 202
    pipeline.drain()
    items = table_items(pipeline)
    # When a dry run counts Ada
    report = run_erase(pipeline.stack, dry_run=True)
    # Then it counts Bob's items as redacted and changes nothing
    assert report.counts == {"redacted": 3}
    assert table_items(pipeline) == items


class ChangedAfterRead:
    """A DynamoDB client on which, once the erasure has read an item of ``type``, a processor
    changes that item before the erasure writes it back."""

    def __init__(self, client: Any, item_type: str, change: Any) -> None:
        self._client, self._type, self._change = client, item_type, change

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get_item(self, **kwargs: Any) -> Any:
        read = self._client.get_item(**kwargs)
        if self._change is not None and read.get("Item", {}).get("type", {}).get("S") == self._type:
            change, self._change = self._change, None
            change()
        return read


def test_a_booking_changed_while_it_is_redacted_keeps_the_change(pipeline: Pipeline) -> None:
    # Given Bob's booking naming Ada
    assert pipeline.post(bob_booking_naming_ada())["statusCode"] == 202
    pipeline.drain()

    def bob_cancels() -> None:
        data = json.loads(bob_booking_naming_ada("invitee_canceled.json"))
        data["payload"]["cancellation"]["canceled_by"] = "Bob"
        assert pipeline.post(json.dumps(data).encode())["statusCode"] == 202
        pipeline.drain()

    # When Ada is erased, and Bob's cancellation is applied between the erasure reading his
    # booking and writing it back redacted
    sweep = TableSweep(pipeline.repo.table_name, ChangedAfterRead(pipeline.repo.client, "invitee", bob_cancels))
    for found in sweep.find(ADA):
        sweep.redact(found, ADA)
    # Then Bob's booking is canceled, as his newer delivery said, and Ada is in none of it
    (bob,) = pipeline.repo.bookings_by_email(BOB)
    assert bob.status == "canceled"
    assert bob.attributes["cancellation"]["canceled_by"] == "Bob"
    assert not carries_ada(bob.attributes)
