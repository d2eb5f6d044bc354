"""DynamoDB implementation of ``ConnectionsReader``: the registry's connection items (one
partition, sorted by ``CONNECTION#<id>``, so by id) a page at a time, read by key range from
the last id returned (never a table key in the cursor), and each one's newest completeness
report (the reconciler's report partition, newest first, one item). Eventually consistent
reads: the API shows what was written a moment ago at most a moment late."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import query_items
from calsync.connections.aws_registry import DynamoConnectionRegistry, connection_from_item
from calsync.connections.records import Connection
from calsync.reconcile.aws_state import DynamoReconcileState

_PREFIX = keys.connection("").sk  # "CONNECTION#": every connection item's sort key starts so


class DynamoConnectionsReader(clients.TableAdapter):
    def page(self, *, after: str | None, limit: int) -> tuple[Sequence[Connection], bool]:
        start = keys.connection(after).sk if after is not None else _PREFIX
        items = query_items(
            self.client,
            "connections page",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk AND SK > :after",
            ExpressionAttributeValues={":pk": {"S": keys.CONNECTIONS_PK}, ":after": {"S": start}},
            Limit=limit + 1,
        )
        found: list[Connection] = []
        for item in items:
            if not str(item.get(keys.SK, "")).startswith(_PREFIX):
                break  # past the connections (nothing else sorts there today)
            if len(found) == limit:
                return found, True
            found.append(connection_from_item(item))
        return found, False

    def get(self, connection_id: str) -> Connection | None:
        return DynamoConnectionRegistry(self.table_name, self.client).get(connection_id)

    def latest_report(self, connection_id: str) -> Mapping[str, Any] | None:
        found = DynamoReconcileState(self.table_name, self.client).reports(connection_id, limit=1)
        return found[0] if found else None
