"""DynamoDB adapter for ``lifecycle.once.Ledger``: one consumer's claims on lifecycle events,
in the bookings table under ``CONSUMED#<consumer>#<event id>`` (``keys.consumed``), with a TTL.

Only conditional PutItem, UpdateItem and DeleteItem on the consumer's own key prefix (its IAM
policy grants nothing else): telling a sent claim from one held by another message takes a
second conditional write, only when the first one failed (a copy of an event, which is rare).
The table's stream carries these items, but the lifecycle publisher's filter drops them
(``type`` is ``consumed``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, serialise_item
from calsync.lifecycle.once import CLAIM_TTL, LEASE, Claim

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

PENDING, SENT = "pending", "sent"


class DynamoLedger:
    def __init__(self, table_name: str, consumer: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self.consumer = consumer
        self._client = client

    def _key(self, event_id: str) -> keys.Key:
        return keys.consumed(self.consumer, event_id)

    def claim(self, event_id: str, *, claimant: str, now: datetime) -> Claim:
        client = self._client or clients.dynamodb()
        key = self._key(event_id)
        item = serialise_item(
            {
                **key.attributes(),
                "type": "consumed",
                "consumer": self.consumer,
                "state": PENDING,
                "claimant": claimant,
                "lease_until": int((now + LEASE).timestamp()),
                "expires_at": int((now + CLAIM_TTL).timestamp()),
            }
        )
        taken = conditional(
            "dynamodb:PutItem (consumer claim)",
            lambda: client.put_item(
                TableName=self.table_name,
                Item=item,
                # New, or pending and either this message's own (a retry) or its lease run out
                ConditionExpression=(
                    "attribute_not_exists(PK) OR (#state = :pending AND (claimant = :me OR lease_until < :now))"
                ),
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=serialise_item(
                    {":pending": PENDING, ":me": claimant, ":now": int(now.timestamp())}
                ),
            ),
        )
        if taken:
            return Claim.TAKEN
        seen_again = conditional(
            "dynamodb:UpdateItem (consumer claim, sent)",
            lambda: client.update_item(
                TableName=self.table_name,
                Key=key.dynamo(),
                UpdateExpression="ADD copies :one",
                ConditionExpression="#state = :sent",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=serialise_item({":sent": SENT, ":one": 1}),
            ),
        )
        return Claim.SENT if seen_again else Claim.HELD

    def confirm(self, event_id: str, *, claimant: str) -> None:
        """Sent, whoever holds the claim now (another message may have taken it over after the
        lease: it must not send again). A claim gone meanwhile is not written again (no TTL)."""
        client = self._client or clients.dynamodb()
        conditional(
            "dynamodb:UpdateItem (consumer claim confirmed)",
            lambda: client.update_item(
                TableName=self.table_name,
                Key=self._key(event_id).dynamo(),
                UpdateExpression="SET #state = :sent, claimant = :me REMOVE lease_until",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=serialise_item({":sent": SENT, ":me": claimant}),
            ),
        )

    def release(self, event_id: str, *, claimant: str) -> None:
        client = self._client or clients.dynamodb()
        conditional(  # another message's claim (taken over after the lease) is left alone
            "dynamodb:DeleteItem (consumer claim released)",
            lambda: client.delete_item(
                TableName=self.table_name,
                Key=self._key(event_id).dynamo(),
                ConditionExpression="claimant = :me AND #state = :pending",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=serialise_item({":me": claimant, ":pending": PENDING}),
            ),
        )
