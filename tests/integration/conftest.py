"""moto-backed fixtures: the stack is provisioned from template.yaml itself."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from calsync import compose
from calsync.aws import clients
from calsync.aws.dynamo import scan_items
from calsync.aws.views import ITEM_TYPES
from calsync.bookings.aws_bookings import DynamoBookingsRepository
from calsync.config import ProcessorSettings
from calsync.intake.routing import QueueKind
from calsync_dev.events import signed_api_gateway_event
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from calsync_dev.provision import Stack, provision, register_webhook_connection
from calsync_dev.pump import SqsEventSource, queue_depth
from calsync_dev.template import TEMPLATE, processor_logical_id, queue_logical_id
from tests.factories import KEY
from tests.integration import moto_state

# One intake queue and its processor per QueueKind (tests/unit/tools/test_template.py checks
# the template declares exactly these).
QUEUES = [queue_logical_id(kind) for kind in QueueKind]
PROCESSORS = {queue_logical_id(kind): processor_logical_id(kind) for kind in QueueKind}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "calsync",
        "POWERTOOLS_DEV": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        # mock_aws starts a new default session (moto restores the old one at exit); this one
        # shares the service models already read, instead of reading them from disk again
        boto3.DEFAULT_SESSION = moto_state.new_session()
        clients.reset()
        yield
    clients.reset()


@dataclass
class Pipeline:
    stack: Stack
    receiver: Any
    processors: dict[str, Any]
    sqs: Any
    repo: DynamoBookingsRepository

    def post(self, body: bytes, *, key: str = KEY, connection_id: str = "acme", **kwargs: Any) -> dict[str, Any]:
        event = signed_api_gateway_event(body, key, connection_id=connection_id, **kwargs)
        return self.invoke_receiver(event)

    def invoke_receiver(self, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.receiver(event, LambdaContext("receiver"))
        response["json"] = json.loads(response["body"])
        return response

    def source(self, queue: str) -> SqsEventSource:
        return SqsEventSource(
            self.sqs,
            self.stack.queue_urls[queue],
            self.stack.queue_arns[queue],
            self.processors[queue],
            LambdaContext(PROCESSORS[queue]),
        )

    def drain(self) -> int:
        return sum(self.source(queue).drain() for queue in QUEUES)

    def depth(self, queue: str) -> int:
        return queue_depth(self.sqs, self.stack.queue_urls[queue])

    def total_depth(self) -> int:
        return sum(self.depth(queue) for queue in QUEUES)

    def items(self) -> list[dict[str, Any]]:
        """Every booking-side item as stored (keys included), read with a raw Scan."""
        return sorted(
            (
                item
                for item in scan_items(self.repo.client, "test", TableName=self.repo.table_name)
                if item["type"] in ITEM_TYPES
            ),
            key=lambda i: (i["PK"], i["SK"]),
        )


# The stack as provisioned from template.yaml (by content), and moto's state right after.
_provisioned: dict[bytes, tuple[Stack, moto_state.Snapshot]] = {}


@pytest.fixture
def stack(aws: None) -> Stack:
    """The whole template provisioned into a fresh moto: for real the first time in a run, then
    restored from a copy of what that left (tests/integration/moto_state.py); the same either way."""
    key = TEMPLATE.read_bytes()
    if key in _provisioned and not moto_state.in_use():
        provisioned, snapshot = _provisioned[key]
        snapshot.restore()
        return copy.deepcopy(provisioned)
    fresh = not moto_state.in_use()
    provisioned = provision(moto_state.new_session())
    if fresh:
        _provisioned[key] = (copy.deepcopy(provisioned), moto_state.Snapshot.take())
    return provisioned


@pytest.fixture
def pipeline(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    for spec in stack.functions.values():
        for name, value in spec.environment.items():
            monkeypatch.setenv(name, value)
    receiver_spec = stack.functions["ReceiverFunction"]
    # The services as the functions build them, from the template's environment.
    register_webhook_connection(receiver_spec.environment, "acme", KEY)
    receiver = load_handler(receiver_spec, apply_environment=False)
    processors = {q: load_handler(stack.functions[f], apply_environment=False) for q, f in PROCESSORS.items()}
    processor_env = stack.functions[PROCESSORS[QUEUES[0]]].environment
    repo = compose.processor(ProcessorSettings.from_env(processor_env)).repository
    return Pipeline(stack, receiver, processors, boto3.client("sqs"), repo)
