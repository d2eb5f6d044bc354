"""The `stack` fixture provisions the template once per run and restores moto's state for every
later test (tests/integration/moto_state.py): a restored stack must be the provisioned one, and
nothing a test writes may reach the next."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from moto.core.base_backend import BackendDict

from calsync_dev.provision import Stack, provision
from tests.integration import moto_state


def observed(session: Any, stack: Stack) -> dict[str, Any]:
    """Everything provisioning makes, as the AWS APIs describe it (secret values by their keys:
    generated ones differ between provisionings)."""
    sqs, dynamodb = session.client("sqs"), session.client("dynamodb")
    secrets, s3 = session.client("secretsmanager"), session.client("s3")
    events, scheduler = session.client("events"), session.client("scheduler")
    tables = {}
    for name in dynamodb.list_tables()["TableNames"]:
        table = dynamodb.describe_table(TableName=name)["Table"]
        tables[name] = {
            key: table.get(key)
            for key in ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes", "StreamSpecification")
        }
        tables[name]["ttl"] = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        tables[name]["items"] = dynamodb.scan(TableName=name)["Items"]
    queues = {}
    for url in sqs.list_queues()["QueueUrls"]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queues[url] = {k: v for k, v in attributes.items() if k not in ("CreatedTimestamp", "LastModifiedTimestamp")}
    return {
        "queues": queues,
        "tables": tables,
        "secrets": {
            entry["Name"]: sorted(
                json.loads(secrets.get_secret_value(SecretId=entry["Name"], VersionStage="AWSCURRENT")["SecretString"])
            )
            for entry in secrets.list_secrets()["SecretList"]
        },
        "buckets": sorted(bucket["Name"] for bucket in s3.list_buckets()["Buckets"]),
        "objects": {name: s3.list_objects_v2(Bucket=name).get("KeyCount", 0) for name in stack.buckets.values()},
        "buses": sorted(bus["Name"] for bus in events.list_event_buses()["EventBuses"]),
        "schedule_groups": sorted(group["Name"] for group in scheduler.list_schedule_groups()["ScheduleGroups"]),
        "schedules": scheduler.list_schedules()["Schedules"],
    }


def without_stream_times(stack: Stack) -> str:
    """The stack, its tables' stream ARNs without their creation time (the rest the template fixes)."""
    return re.sub(r"/stream/[^'\"]+", "/stream/<created>", repr(stack))


def test_restoring_gives_what_provisioning_made_and_nothing_written_since(aws: None) -> None:
    # Given the template provisioned into an empty moto, and a snapshot taken then
    session = moto_state.new_session()
    stack = provision(session)
    made = observed(session, stack)
    snapshot = moto_state.Snapshot.take()
    # When a test writes to it, then moto is emptied (as mock_aws does) and the snapshot restored
    session.client("dynamodb").put_item(
        TableName=stack.tables["BookingsTable"], Item={"PK": {"S": "a"}, "SK": {"S": "b"}}
    )
    session.client("sqs").send_message(QueueUrl=next(iter(stack.queue_urls.values())), MessageBody="x")
    BackendDict.reset()
    assert not moto_state.in_use()
    snapshot.restore()
    # Then moto holds what provisioning made, and none of what was written since
    assert observed(moto_state.new_session(), stack) == made
    # And restoring again works the same (each restore is a copy of its own)
    BackendDict.reset()
    snapshot.restore()
    assert observed(moto_state.new_session(), stack) == made


def test_the_stack_fixture_gives_the_provisioned_stack(stack: Stack) -> None:
    # Given the fixture's stack (restored, unless this test is the run's first to ask for one)
    session = moto_state.new_session()
    restored = observed(session, stack)
    # When moto is emptied and the template provisioned anew
    BackendDict.reset()
    fresh_stack = provision(session)
    # Then both have the same resources, described the same, and the same functions' environments
    assert observed(session, fresh_stack) == restored
    assert without_stream_times(stack) == without_stream_times(fresh_stack)


@pytest.mark.parametrize("round_", [1, 2])
def test_what_a_test_writes_does_not_reach_the_next(stack: Stack, round_: int) -> None:
    # Given the restored stack (each round is its own test; the first may provision for real)
    session = moto_state.new_session()
    sqs, dynamodb, s3 = session.client("sqs"), session.client("dynamodb"), session.client("s3")
    table, queue = next(iter(stack.tables.values())), next(iter(stack.queue_urls.values()))
    bucket = next(iter(stack.buckets.values()))
    # Then it starts empty: no item, message or object a test before it wrote
    assert dynamodb.scan(TableName=table)["Items"] == []
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0
    # When this test writes to each
    dynamodb.put_item(TableName=table, Item={"PK": {"S": f"round-{round_}"}, "SK": {"S": "x"}})
    sqs.send_message(QueueUrl=queue, MessageBody=f"round-{round_}")
    s3.put_object(Bucket=bucket, Key=f"round-{round_}", Body=b"x")
    # (and the next round checks it finds none of it)
