"""SQS adapter for the receiver's ``DeliveryQueue`` port (the message contract itself lives
beside ``Delivery`` in ``calsync.intake.delivery``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from calsync.aws import clients
from calsync.aws.errors import aws_call
from calsync.errors import DependencyUnavailable
from calsync.intake.delivery import (
    QUEUE_MESSAGE_MAX_BYTES,
    Delivery,
    DeliveryBodies,
    body_key,
    message_attributes,
    message_body,
    message_size,
    offloaded,
)
from calsync.intake.routing import QueueKind

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef


class SqsDeliveryQueue:
    """One queue per event kind; the message and its attributes as ``webhooks.delivery`` defines them.
    A message over ``max_message_bytes`` has its body put in ``bodies`` first and carries the key;
    without ``bodies`` it is sent as is (and SQS refuses it: the sender sees ``DependencyUnavailable``)."""

    def __init__(
        self,
        queue_urls: Mapping[QueueKind, str],
        client: SQSClient | None = None,
        *,
        bodies: DeliveryBodies | None = None,
        max_message_bytes: int = QUEUE_MESSAGE_MAX_BYTES,
    ) -> None:
        missing = set(QueueKind) - set(queue_urls)
        if missing:
            raise ValueError(f"no queue URL for {sorted(missing)}")
        self._urls = dict(queue_urls)
        self._client = client
        self._bodies = bodies
        self._max_message_bytes = max_message_bytes

    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        client = self._client or clients.sqs()
        body, plain = message_body(delivery), message_attributes(delivery)
        if self._bodies is not None and message_size(body, plain) > self._max_message_bytes:
            key = body_key(delivery)
            self._bodies.put(key, delivery.body.encode("utf-8", "surrogatepass"))
            body, plain = offloaded(delivery, key)
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            k: {"DataType": "String", "StringValue": v} for k, v in plain.items()
        }
        with aws_call(f"sqs:SendMessage to {kind}"):
            client.send_message(QueueUrl=self._urls[kind], MessageBody=body, MessageAttributes=attributes)


BACKOFF_BASE_SECONDS = 30
BACKOFF_CAP_SECONDS = 900


def backoff_seconds(attempt: int) -> int:
    """How long to wait before attempt ``attempt + 1``: 30 s, 60 s, 120 s, … at most 15 min."""
    return int(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempt - 1)))


def back_off(queue_arn: str, receipt_handle: str, attempt: int, client: SQSClient | None = None) -> None:
    """Hold a failed message back longer after each attempt (a consumer's retry with back-off).
    If that fails, the queue still redelivers it at its visibility timeout."""
    _, _, _, region, account, name = queue_arn.split(":", 5)
    url = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
    with contextlib.suppress(DependencyUnavailable), aws_call("sqs:ChangeMessageVisibility"):
        (client or clients.sqs()).change_message_visibility(
            QueueUrl=url, ReceiptHandle=receipt_handle, VisibilityTimeout=backoff_seconds(attempt)
        )


@contextlib.contextmanager
def backing_off(queue_arn: str, receipt_handle: str, attempt: int) -> Iterator[None]:
    """Run a consumer's work on one message; if it fails, hold the message back (``back_off``)
    and let the failure through, so the queue redelivers it later."""
    try:
        yield
    except Exception:
        back_off(queue_arn, receipt_handle, attempt)
        raise
