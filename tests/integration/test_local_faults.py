"""The local stack's fault kit (calsync_dev.local.faults): the emulator, behind the fault
middleware, answers armed AWS errors the way botocore understands them, for exactly the
next N matching calls, and passes everything else to moto."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from calsync_dev.local.faults import CONTROL_PATH, FaultMiddleware


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    app = FaultMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def control(emulator: str, method: str, rule: dict[str, Any] | None = None) -> Any:
    data = json.dumps(rule).encode() if rule is not None else None
    request = urllib.request.Request(f"{emulator}{CONTROL_PATH}", data=data, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def client(emulator: str, service: str) -> Any:
    # Standard retry mode, 3 retries = 4 attempts (botocore's max_attempts counts retries)
    return boto3.client(
        service,
        endpoint_url=emulator,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )


@pytest.fixture
def emu(emulator: str) -> Iterator[str]:
    control(emulator, "DELETE")
    yield emulator
    control(emulator, "DELETE")


def test_armed_dynamodb_throttling_is_retried_by_the_sdk_and_then_passes(emu: str) -> None:
    dynamodb = client(emu, "dynamodb")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # Given the next 2 writes are throttled
    control(
        emu,
        "POST",
        {
            "service": "dynamodb",
            "operations": ["PutItem"],
            "error": "ProvisionedThroughputExceededException",
            "count": 2,
        },
    )
    # When a write is made, the SDK retries it and the third attempt is stored
    answer = dynamodb.put_item(TableName="t", Item={"PK": {"S": "a"}})
    assert answer["ResponseMetadata"]["RetryAttempts"] == 2
    assert "Item" in dynamodb.get_item(TableName="t", Key={"PK": {"S": "a"}})
    # And the rule is used up, other operations untouched
    (rule,) = control(emu, "GET")["rules"]
    assert (rule["hits"], rule["remaining"]) == (2, 0)


def test_armed_sqs_send_failures_reach_the_caller_with_their_code_after_the_sdk_retries(emu: str) -> None:
    sqs = client(emu, "sqs")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    control(emu, "POST", {"service": "sqs", "operations": ["SendMessage"], "error": "ServiceUnavailable", "count": 4})
    with pytest.raises(ClientError) as failed:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    assert failed.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    # Nothing was enqueued; the next send goes through
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="y")
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["y"]


def test_a_rule_without_an_error_or_delay_is_refused(emu: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        control(emu, "POST", {"service": "sqs", "count": 1})
    assert refused.value.code == 400
    assert control(emu, "GET") == {"rules": []}
