"""Contract tests: the same Given/When/Then run against each port's in-memory fake
(tests/fakes) and its AWS adapter on moto, so the fake cannot drift from what deploys.

Every test here takes ``backend`` (``fake`` or ``moto``); the moto resources are lean: only
what the adapter needs (the bookings table with the template's own keys and indexes, one
queue, one secret), created in-process, no sockets.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from calsync.aws import clients, keys
from calsync.aws.dynamo import plain_item, serialise_item
from calsync_dev.template import load_raw
from tests.fakes.table import MemoryTable

REGION = "us-east-1"
TABLE = "bookings"
STREAMS_ENDPOINT = f"https://streams.dynamodb.{REGION}.amazonaws.com"  # moto in-process (docs/ENVIRONMENT)


@pytest.fixture(params=["fake", "moto"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        clients.reset()
        yield
    clients.reset()


@functools.cache
def _table_properties() -> dict[str, Any]:
    """The bookings table's keys and indexes as template.yaml declares them (read once)."""
    properties: dict[str, Any] = load_raw()["Resources"]["BookingsTable"]["Properties"]
    return properties


class MotoTable:
    """The bookings table on moto, read the way ``MemoryTable.item`` reads (plain attributes,
    without key attributes), so one assertion holds for both."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.name = TABLE
        props = _table_properties()
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, **props["StreamSpecification"]},
        )
        self._taken = 0

    def take_changes(self) -> list[tuple[keys.Key, dict[str, Any] | None, dict[str, Any] | None]]:
        """The table's stream records since the last call, as ``MemoryTable.take_changes`` gives them.
        Records whose images hold the same attributes are left out: moto writes some (a key-only
        insert before an UpdateItem's first write, a MODIFY for a write that changes nothing),
        AWS writes none, and the publisher derives nothing from them."""
        arn = self.client.describe_table(TableName=self.name)["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=STREAMS_ENDPOINT)
        records: list[dict[str, Any]] = []
        for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            records += streams.get_records(ShardIterator=iterator)["Records"]
        taken, self._taken = records[self._taken :], len(records)
        changes = []
        for record in taken:
            data = record["dynamodb"]
            old, new = _image(data.get("OldImage")), _image(data.get("NewImage"))
            if (old or {}) != (new or {}):
                changes.append((_key(data["Keys"]), old, new))
        return changes

    def item(self, key: keys.Key) -> dict[str, Any] | None:
        found = self.client.get_item(TableName=self.name, Key=key.dynamo(), ConsistentRead=True)
        if "Item" not in found:
            return None
        return {k: v for k, v in plain_item(found["Item"]).items() if k not in keys.KEY_ATTRIBUTES}

    def all_items(self) -> dict[keys.Key, dict[str, Any]]:
        """Every item (a Scan), as ``MemoryTable.items`` holds them."""
        found = {}
        for page in self.client.get_paginator("scan").paginate(TableName=self.name):
            for item in page["Items"]:
                plain = plain_item(item)
                found[keys.Key(plain[keys.PK], plain[keys.SK])] = {
                    k: v for k, v in plain.items() if k not in keys.KEY_ATTRIBUTES
                }
        return found

    def put(self, key: keys.Key, attributes: dict[str, Any]) -> None:
        self.client.put_item(TableName=self.name, Item=serialise_item({**key.attributes(), **attributes}))


def _key(item: dict[str, Any]) -> keys.Key:
    return keys.Key(item[keys.PK]["S"], item[keys.SK]["S"])


def _image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    if not image:
        return None
    return {k: v for k, v in plain_item(image).items() if k not in keys.KEY_ATTRIBUTES}


@pytest.fixture
def table(backend: str, request: pytest.FixtureRequest) -> MemoryTable | MotoTable:
    """The bookings table the port under test writes: in memory, or on moto."""
    if backend == "fake":
        return MemoryTable()
    request.getfixturevalue("aws")
    return MotoTable(boto3.client("dynamodb", region_name=REGION))


def moto_client(service: str, request: pytest.FixtureRequest) -> Any:
    """A client of ``service`` inside moto (started for this test)."""
    request.getfixturevalue("aws")
    return boto3.client(service, region_name=REGION)  # type: ignore[call-overload]
