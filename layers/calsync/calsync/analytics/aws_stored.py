"""DynamoDB adapter for the lake's backfill: the bookings table read one scan segment at a time,
a page at a time, with the related items each page's bookings need read ahead in batches; a
throttled scan waits and reads the same page again (``calsync.migrate.backoff``)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from calsync.analytics.stored import ITEM_TYPES, KnownFirst
from calsync.aws import clients, keys
from calsync.aws.dynamo import plain_item
from calsync.aws.errors import aws_call
from calsync.lifecycle.aws_stream import TableImages
from calsync.migrate.backoff import Backoff

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LINKS = ("rescheduled_from", "rescheduled_to", "submitter")  # invitees a page's items name


@dataclass(frozen=True, slots=True)
class ScanPage:
    """One scan page: the items that may land in the lake (attributes, keys removed), how many
    items the scan read (for progress), and the related items to read them with."""

    items: list[dict[str, Any]]
    scanned: int
    images: KnownFirst


class StoredItems:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None, backoff: Backoff | None = None) -> None:
        self.table_name = table_name
        self._client = client
        self.backoff = backoff or Backoff()  # a throttled scan waits and reads the same page again

    @property
    def client(self) -> DynamoDBClient:
        return self._client or clients.dynamodb()

    def approximate_count(self) -> int | None:
        """The table's item count as DynamoDB last measured it (about every six hours)."""
        with aws_call("dynamodb:DescribeTable (lake backfill)"):
            count = self.client.describe_table(TableName=self.table_name)["Table"].get("ItemCount")
        return int(count) if count is not None else None

    def pages(self, segment: int, total_segments: int, *, page_size: int = 500) -> Iterator[ScanPage]:
        """Scan segment ``segment`` of ``total_segments`` (a fixed set of items, whatever the run):
        its bookings, submissions and tombstones, a page at a time."""
        start: dict[str, Any] | None = None
        while True:
            request: dict[str, Any] = {
                "TableName": self.table_name,
                "Segment": segment,
                "TotalSegments": total_segments,
                "Limit": page_size,
                "FilterExpression": "#type IN (" + ", ".join(f":t{i}" for i in range(len(ITEM_TYPES))) + ")",
                "ExpressionAttributeNames": {"#type": "type"},
                "ExpressionAttributeValues": {f":t{i}": {"S": t} for i, t in enumerate(sorted(ITEM_TYPES))},
            }
            if start:
                request["ExclusiveStartKey"] = start
            answer = self.backoff.call(functools.partial(self._scan, request))
            items = [
                {k: v for k, v in plain_item(item).items() if k not in keys.KEY_ATTRIBUTES}
                for item in answer.get("Items", [])
            ]
            yield ScanPage(items, int(answer.get("ScannedCount", 0)), self._images(items))
            start = answer.get("LastEvaluatedKey")
            if not start:
                return

    def _scan(self, request: dict[str, Any]) -> dict[str, Any]:
        with aws_call("dynamodb:Scan (lake backfill)"):
            answer: dict[str, Any] = dict(self.client.scan(**request))
        return answer

    def _images(self, items: list[dict[str, Any]]) -> KnownFirst:
        """The page's own invitees, and its scheduled events and linked invitees read ahead (one
        BatchGetItem per 100 keys)."""
        table = TableImages(self.table_name, self.client)
        own = {item.get("uri") for item in items if item.get("type") == "invitee"}
        linked = {value for item in items for name in LINKS if isinstance(value := item.get(name), str)} - own
        table.read_ahead(items, invitees=sorted(linked))
        return KnownFirst(items, table)
