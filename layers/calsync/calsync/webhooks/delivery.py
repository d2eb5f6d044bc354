"""What the receiver enqueues and a processor dequeues: the delivery and its message contract.

A queue message is the raw body exactly as signed; where it came from travels in four string
attributes. Both sides use these functions, so the contract lives in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from calsync.calendly.models import EventName, UtcDatetime

ATTRIBUTES = ("connection_id", "received_at", "body_sha256", "event")


class Delivery(BaseModel):
    """One accepted webhook: the raw body exactly as signed, plus where it came from."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    received_at: UtcDatetime
    body_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    event: EventName
    body: str


def message_attributes(delivery: Delivery) -> dict[str, str]:
    """The message's string attributes (the body is the message itself)."""
    return {
        "connection_id": delivery.connection_id,
        "received_at": delivery.received_at.isoformat(),
        "body_sha256": delivery.body_sha256,
        "event": delivery.event,
    }


def delivery_from_message(body: str, attributes: Mapping[str, Mapping[str, object]]) -> Delivery:
    """Rebuild the delivery from a queue message (attribute keys as in Lambda's SQS event,
    ``stringValue``, or as SQS's API returns them, ``StringValue``); raises
    ``pydantic.ValidationError`` for a message that is not a calsync delivery."""

    def attr(name: str) -> object:
        value = attributes.get(name, {})
        return value.get("stringValue", value.get("StringValue"))

    return Delivery.model_validate({**{name: attr(name) for name in ATTRIBUTES}, "body": body})
