"""``ConnectionPages`` over the registry's partition: one Query page of ``limit`` items at a time,
its cursor the last connection id (a stable order: the sort key)."""

from __future__ import annotations

from calsync.aws import keys
from calsync.aws.clients import TableAdapter
from calsync.aws.dynamo import plain_item
from calsync.aws.errors import aws_call
from calsync.connections.aws_registry import connection_from_item
from calsync.connections.records import Connection


class DynamoConnectionPages(TableAdapter):
    def page(self, *, limit: int, after: str | None = None) -> tuple[list[Connection], str | None]:
        kwargs = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": {"S": keys.CONNECTIONS_PK}},
            "Limit": limit,
        }
        if after is not None:
            kwargs["ExclusiveStartKey"] = keys.connection(after).dynamo()
        with aws_call("dynamodb:Query (connection page)"):
            answer = self.client.query(**kwargs)  # type: ignore[arg-type]
        connections = [connection_from_item(plain_item(item)) for item in answer.get("Items", [])]
        more = "LastEvaluatedKey" in answer and connections
        return connections, (connections[-1].connection_id if more else None)
