"""``BudgetStore`` in the bookings table: one item per connection (``keys.rate_budget``), written
with a condition on its ``version`` so concurrent workers never overwrite each other's spending.
The item expires (TTL) a day after its window: a removed connection's budget goes by itself."""

from __future__ import annotations

from typing import Any

from calsync.aws import keys
from calsync.aws.clients import TableAdapter
from calsync.aws.dynamo import conditional, plain_item, serialise_item
from calsync.aws.errors import aws_call
from calsync.connections.budget import Allowance

KEEP_SECONDS = 86_400


class DynamoBudgets(TableAdapter):
    def get(self, connection_id: str) -> Allowance:
        with aws_call("dynamodb:GetItem (rate budget)"):
            item = self.client.get_item(
                TableName=self.table_name, Key=keys.rate_budget(connection_id).dynamo(), ConsistentRead=True
            )
        return Allowance.from_dict(plain_item(item["Item"])) if "Item" in item else Allowance()

    def put(self, connection_id: str, allowance: Allowance, *, expected: int) -> bool:
        stored: dict[str, Any] = {
            **keys.rate_budget(connection_id).attributes(),
            "type": "rate_budget",
            **allowance.as_dict(),
            "expires_at": int(max(allowance.window_ends, allowance.blocked_until)) + KEEP_SECONDS,
        }
        # version 0: no record yet (stored versions start at 1)
        condition = "attribute_not_exists(PK) OR version = :expected" if expected == 0 else "version = :expected"
        return conditional(
            "dynamodb:PutItem (rate budget)",
            lambda: self.client.put_item(
                TableName=self.table_name,
                Item=serialise_item(stored),
                ConditionExpression=condition,
                ExpressionAttributeValues={":expected": {"N": str(expected)}},
            ),
        )
