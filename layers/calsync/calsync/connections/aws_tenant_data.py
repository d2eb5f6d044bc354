"""DynamoDB implementation of ``TenantData``: erase one connection's stored data, a page at a time.

The connection's scheduled events come from GSI2 (``TENANT#<connection>``, which lists each
event's invitees after it too: a partition is erased once, at its first entry); each event's
partition (``EVENT#<uuid>``: the event, its invitees, its submissions) is read consistently and
deleted, the ``EVENT`` item last, so a run cut short leaves the event findable through the index
and the next run finishes it. Then the connection's reconcile reports (``REPORT#<connection>``).
The index pages are followed by ``ExclusiveStartKey`` (an eventually consistent index may still
list an event just deleted: it is found empty, never looped over). Each item deleted costs one
write unit per KB (BatchWriteItem, 25 at a time).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from calsync.aws import clients, keys
from calsync.aws.dynamo import query_items
from calsync.aws.errors import aws_call
from calsync.errors import DependencyUnavailable

BATCH_WRITE_LIMIT = 25
EVENTS_PER_PAGE = 25
UNPROCESSED_ATTEMPTS = 5
SECONDS_PER_EVENT = 2.0  # what one event's partition may take: no event is started with less left


class DynamoTenantData(clients.TableAdapter):
    def erase(self, connection_id: str, *, time_left: Callable[[], float]) -> bool:
        events = query_items(
            self.client,
            "tenant events",
            TableName=self.table_name,
            IndexName=keys.GSI2,
            KeyConditionExpression="GSI2PK = :t",
            ExpressionAttributeValues={":t": {"S": keys.tenant_pk(connection_id)}},
            ProjectionExpression="PK",
            Limit=EVENTS_PER_PAGE,
        )
        erased: set[str] = set()
        for entry in events:
            pk = str(entry[keys.PK])
            if pk in erased:
                continue  # one of its invitees' entries, or an entry the index still shows
            if time_left() < SECONDS_PER_EVENT:
                return False
            self._delete_partition(pk, last=("EVENT",))
            erased.add(pk)
        if time_left() < SECONDS_PER_EVENT:
            return False
        self._delete_partition(keys.report_pk(connection_id))
        return True

    def _delete_partition(self, pk: str, *, last: tuple[str, ...] = ()) -> None:
        found = query_items(
            self.client,
            "tenant partition",
            TableName=self.table_name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": pk}},
            ProjectionExpression="PK, SK",
            ConsistentRead=True,
        )
        sort_keys = [str(item[keys.SK]) for item in found]
        ordered = [sk for sk in sort_keys if sk not in last] + [sk for sk in sort_keys if sk in last]
        for start in range(0, len(ordered), BATCH_WRITE_LIMIT):
            self._delete([keys.Key(pk, sk) for sk in ordered[start : start + BATCH_WRITE_LIMIT]])

    def _delete(self, batch: list[keys.Key]) -> None:
        request: dict[str, Any] = {self.table_name: [{"DeleteRequest": {"Key": key.dynamo()}} for key in batch]}
        for _ in range(UNPROCESSED_ATTEMPTS):
            with aws_call("dynamodb:BatchWriteItem (tenant data)"):
                answer = self.client.batch_write_item(RequestItems=request)
            request = dict(answer.get("UnprocessedItems") or {})
            if not request:
                return
        raise DependencyUnavailable("dynamodb:BatchWriteItem (tenant data): items left unprocessed")
