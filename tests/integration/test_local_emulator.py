"""The local stack's emulator keeps the promises of AWS that calsync relies on: a conditional
write to an item is atomic, even when two functions write it at the same moment (a booking's
creation and its cancellation, processed by two processors side by side), and a queue hands a
message to one receiver only (the local runtime polls a busy queue with several pollers)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models.table import Table
from moto.sqs.models import Message
from werkzeug.serving import make_server

from calsync_dev.local.faults import emulator_app


@pytest.fixture
def emulator() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, emulator_app(), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def slow_item_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen moto's window between reading an item and writing it (a busy emulator's GIL
    switch), so that a race, if there is one, is lost every time rather than now and then."""
    original = Table.get_item

    def get_item(self: Table, *args: Any, **kwargs: Any) -> Any:
        found = original(self, *args, **kwargs)
        time.sleep(0.05)
        return found

    monkeypatch.setattr(Table, "get_item", get_item)


def test_concurrent_conditional_writes_to_one_item_keep_the_newest_version(
    emulator: str, slow_item_reads: None
) -> None:
    # Given a table on the local stack's emulator
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=emulator,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    dynamodb.create_table(
        TableName="atomic",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )

    def write(version: str) -> bool:
        try:
            dynamodb.update_item(
                TableName="atomic",
                Key={"PK": {"S": "booking"}},
                UpdateExpression="SET v = :v, #s = :s",
                ConditionExpression="attribute_not_exists(v) OR v < :v",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":v": {"S": version}, ":s": {"S": f"state {version}"}},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    # When the newest version (6) is written to a new item and, while it is being written,
    # the older versions 1..5 are written to it too
    with ThreadPoolExecutor(max_workers=6) as pool:
        newest = pool.submit(write, "6")
        time.sleep(0.01)
        older = [pool.submit(write, str(n)) for n in range(1, 6)]

    # Then the item holds the newest version and its state, as DynamoDB's atomic conditions leave it
    item = dynamodb.get_item(TableName="atomic", Key={"PK": {"S": "booking"}}, ConsistentRead=True)["Item"]
    assert (item["v"]["S"], item["status"]["S"]) == ("6", "state 6")
    # And no older write passed its condition
    assert (newest.result(), [f.result() for f in older]) == (True, [False] * 5)


@pytest.fixture
def slow_receipts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Widen moto's window between finding a message visible and marking it received (a busy
    emulator's GIL switch), so that a race, if there is one, is lost every time."""
    original = Message.mark_received

    def mark_received(self: Message, *args: Any, **kwargs: Any) -> None:
        time.sleep(0.05)
        original(self, *args, **kwargs)

    monkeypatch.setattr(Message, "mark_received", mark_received)


def test_concurrent_receives_from_one_queue_hand_a_message_to_one_poller_only(
    emulator: str, slow_receipts: None
) -> None:
    # Given a queue on the local stack's emulator holding one delivery (visibility timeout 130 s)
    sqs = boto3.client(
        "sqs", endpoint_url=emulator, region_name="us-east-1", aws_access_key_id="local", aws_secret_access_key="local"
    )
    url = sqs.create_queue(QueueName="intake", Attributes={"VisibilityTimeout": "130"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody='{"event": "invitee.created"}')

    # When the queue's three pollers (the main one and two helpers) receive at the same moment
    def receive(_: int) -> list[str]:
        found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        return [m["MessageId"] for m in found.get("Messages", [])]

    with ThreadPoolExecutor(3) as pool:
        received = [mid for got in pool.map(receive, range(3)) for mid in got]
    # Then exactly one of them got it (the others find it in flight), so one batch processes it
    assert len(received) == 1, f"one message handed to {len(received)} concurrent batches"
