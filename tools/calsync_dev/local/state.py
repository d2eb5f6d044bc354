"""The emulator's state across runs: tables, queued messages, secrets and bucket objects
(delivery bodies too large for a message), as JSON."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from calsync_dev.provision import Stack


def encode_value(value: Any) -> Any:
    """A wire-shaped attribute value as JSON can hold it: binary (``B``/``BS``) as base64."""
    if isinstance(value, Mapping):
        return {
            k: base64.b64encode(v).decode()
            if k == "B"
            else [base64.b64encode(b).decode() for b in v]
            if k == "BS"
            else encode_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [encode_value(v) for v in value]
    return value


def decode_value(value: Any) -> Any:
    """The inverse of ``encode_value``."""
    if isinstance(value, Mapping):
        return {
            k: base64.b64decode(v) if k == "B" else [base64.b64decode(b) for b in v] if k == "BS" else decode_value(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def export_state(session: Any, stack: Stack) -> dict[str, Any]:
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    secrets = session.client("secretsmanager")
    state: dict[str, Any] = {"tables": {}, "queues": {}, "secrets": {}, "buckets": {}}
    for logical, name in stack.tables.items():
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=name):
            items.extend(encode_value(item) for item in page["Items"])
        state["tables"][logical] = items
    for logical, url in stack.queue_urls.items():
        messages: list[dict[str, Any]] = []
        while batch := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=60
        ).get("Messages", []):
            messages.extend({"Body": m["Body"], "MessageAttributes": m.get("MessageAttributes", {})} for m in batch)
        state["queues"][logical] = messages
    for page in secrets.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            value = secrets.get_secret_value(SecretId=entry["Name"], VersionStage="AWSCURRENT")
            state["secrets"][entry["Name"]] = value.get("SecretString")
    s3 = session.client("s3")
    for logical, bucket in stack.buckets.items():
        objects: dict[str, str] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for entry in page.get("Contents", []):
                data = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
                objects[entry["Key"]] = base64.b64encode(data).decode()
        state["buckets"][logical] = objects
    return state


def import_state(session: Any, stack: Stack, state: Mapping[str, Any]) -> int:
    dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
    secrets = session.client("secretsmanager")
    restored = 0
    for logical, items in state.get("tables", {}).items():
        if logical not in stack.tables:
            continue
        for start in range(0, len(items), 25):
            requests = [{"PutRequest": {"Item": decode_value(item)}} for item in items[start : start + 25]]
            pending: dict[str, Any] = {stack.tables[logical]: requests}
            while pending:
                pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        restored += len(items)
    for logical, messages in state.get("queues", {}).items():
        for message in messages if logical in stack.queue_urls else []:
            sqs.send_message(
                QueueUrl=stack.queue_urls[logical],
                MessageBody=message["Body"],
                MessageAttributes=message.get("MessageAttributes", {}),
            )
    for name, value in state.get("secrets", {}).items():
        if value is not None:
            put_secret(secrets, name, value)
    s3 = session.client("s3")
    for logical, objects in state.get("buckets", {}).items():
        for key, data in objects.items() if logical in stack.buckets else []:
            s3.put_object(Bucket=stack.buckets[logical], Key=key, Body=base64.b64decode(data))
    return restored


def put_secret(client: Any, name: str, value: str) -> None:
    """Create the secret, or give an existing one a new current value."""
    try:
        client.create_secret(Name=name, SecretString=value)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)


def read_state(path: Path | None) -> dict[str, Any]:
    """What the last run saved ({} when there is no state file)."""
    if path is None or not path.exists():
        return {}
    saved: dict[str, Any] = json.loads(path.read_text())
    return saved


def write_state(path: Path, state: Mapping[str, Any]) -> None:
    """Save atomically: a stopped run never leaves half a file behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(state))
    temporary.replace(path)
