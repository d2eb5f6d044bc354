"""`calsync erase` on the local stack, as an operator runs it: a person's deliveries in, erased,
then a full scan of the table (archived bodies decoded) and of every queue, and the old
deliveries sent and replayed again."""

from __future__ import annotations

import base64
import contextlib
import functools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync.aws.dynamo import scan_items
from calsync.erasure.erase import erase
from calsync.erasure.rules import carries
from calsync_dev import cli
from calsync_dev.cli.erase import queues
from calsync_dev.cli.send import post_signed
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from calsync_dev.pump import queue_depth
from tests.e2e.conftest import RunningStack, wait_for
from tests.erasure import items_holding
from tests.factories import GRACE, after_samples, event_body, event_json, grace_booking, padded

pytestmark = pytest.mark.e2e

ADA = "ada@example.com"  # the events/ bookings are Ada's


def ada_submission() -> bytes:
    data = event_json("routing_form_submission_created.json")
    data["payload"]["questions_and_answers"].append({"question_uuid": "q-email", "question": "Email", "answer": ADA})
    return json.dumps(data).encode()


ADA_BODIES = [
    event_body("invitee_created.json"),
    event_body("invitee_no_show_created.json"),
    ada_submission(),
    padded("invitee_canceled.json", 300 * 1024),  # over a queue message: kept in the delivery-bodies bucket
]


def send(stack: RunningStack, body: bytes) -> None:
    status, _ = post_signed(stack.webhook_url, body, DEFAULT_LOCAL_KEY)
    assert status == 202


def settled(target: Target) -> bool:
    sqs = target.client("sqs")
    return all(queue_depth(sqs, url) == 0 for url in target.queues.values())


def items_with(target: Target, email: str) -> list[str]:
    return items_holding(scan_items(target.client("dynamodb"), "e2e", TableName=target.table), email)


def bodies_with(target: Target, email: str) -> list[str]:
    """The keys of the delivery-bodies bucket's objects carrying the address."""
    store = target.bodies()
    assert store is not None
    return [key for key in store.stored_keys() if carries((store.get(key) or b"").decode(), email)]


def messages_with(target: Target, email: str) -> list[str]:
    sqs, found = target.client("sqs"), []
    for name, url in queues(target).items():
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
            "Messages", []
        ):
            messages += batch
        for message in messages:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
            content = [message["Body"]]
            with contextlib.suppress(ValueError):
                content.append(base64.b64decode(message["Body"], validate=True).decode())
            if carries(content, email):
                found.append(name)
    return found


def test_after_erase_a_full_scan_finds_the_address_nowhere_and_replaying_does_not_restore_it(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # (the erasure happens after the samples were sent, whatever today's date is)
    monkeypatch.setattr("calsync_dev.cli.erase.erase", functools.partial(erase, now=after_samples))
    started = datetime.now(UTC) - timedelta(minutes=1)
    # Given Ada's booking, its no-show and her routing-form answer, and Grace's booking, stored
    for body in [*ADA_BODIES, grace_booking()]:
        send(local_stack, body)
    wait_for(lambda: settled(target) and len(items_with(target, ADA)) >= 5, what="Ada's deliveries stored")
    assert target.bookings().bookings_by_email(GRACE)
    assert len(bodies_with(target, ADA)) == 1
    # When the operator erases Ada
    assert cli.main(["erase", "--email", ADA]) == 0
    out = capsys.readouterr().out
    assert "removed" in out
    assert "invitees" in out
    # Then a full scan finds her address in no item, archived body, queued message or large body
    assert items_with(target, ADA) == []
    assert messages_with(target, ADA) == []
    assert bodies_with(target, ADA) == []
    # When her old deliveries are sent again (a retry) and the archive is replayed
    for body in ADA_BODIES:
        send(local_stack, body)
    assert cli.main(["replay", "--since", started.isoformat(), "--wait", "60"]) == 0
    wait_for(lambda: settled(target), what="the queues to drain")
    # Then they do not bring her back; Grace is still stored
    assert items_with(target, ADA) == []
    assert messages_with(target, ADA) == []
    assert bodies_with(target, ADA) == []  # the resent large body was refused and deleted
    assert [b.email for b in target.bookings().bookings_by_email(GRACE)] == [GRACE]
    # And the erasure is on record, without her address
    assert cli.main(["erase", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "by local" in listed
    assert ADA not in listed
