"""SQS adapter for the receiver's ``DeliveryQueue`` port."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from calsync.store import clients
from calsync.store.errors import aws_call
from calsync.webhooks.models import Delivery
from calsync.webhooks.routing import QueueKind

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef


def message_attributes(delivery: Delivery) -> dict[str, MessageAttributeValueTypeDef]:
    values = {
        "connection_id": delivery.connection_id,
        "received_at": delivery.received_at.isoformat(),
        "body_sha256": delivery.body_sha256,
        "event": delivery.event,
    }
    return {k: {"DataType": "String", "StringValue": v} for k, v in values.items()}


def delivery_from_message(body: str, attributes: Mapping[str, Mapping[str, object]]) -> Delivery:
    """Rebuild the delivery from an SQS message (attribute keys as in Lambda's SQS event)."""

    def attr(name: str) -> object:
        value = attributes.get(name, {})
        return value.get("stringValue", value.get("StringValue"))

    return Delivery.model_validate(
        {
            "connection_id": attr("connection_id"),
            "received_at": attr("received_at"),
            "body_sha256": attr("body_sha256"),
            "event": attr("event"),
            "body": body,
        }
    )


class SqsDeliveryQueue:
    """One queue per event kind; the raw body is the message, metadata its attributes."""

    def __init__(self, queue_urls: Mapping[QueueKind, str], client: SQSClient | None = None) -> None:
        missing = set(QueueKind) - set(queue_urls)
        if missing:
            raise ValueError(f"no queue URL for {sorted(missing)}")
        self._urls = dict(queue_urls)
        self._client = client

    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        client = self._client or clients.sqs()
        with aws_call(f"sqs:SendMessage to {kind}"):
            client.send_message(
                QueueUrl=self._urls[kind],
                MessageBody=delivery.body,
                MessageAttributes=message_attributes(delivery),
            )
