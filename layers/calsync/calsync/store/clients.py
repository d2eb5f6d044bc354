"""Cached boto3 client factories: built on first use, never at import time."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient


def _config() -> Any:
    from botocore.config import Config

    # Fail fast: a webhook caller (Calendly) waits on the receiver; retries are bounded.
    return Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})


@cache
def sqs() -> SQSClient:
    import boto3

    return boto3.client("sqs", config=_config())


@cache
def dynamodb() -> DynamoDBClient:
    import boto3

    return boto3.client("dynamodb", config=_config())


@cache
def secretsmanager() -> SecretsManagerClient:
    import boto3

    return boto3.client("secretsmanager", config=_config())


@cache
def events() -> EventBridgeClient:
    import boto3

    return boto3.client("events", config=_config())


@cache
def scheduler() -> EventBridgeSchedulerClient:
    import boto3

    return boto3.client("scheduler", config=_config())


def reset() -> None:
    """Forget every client (tests switch endpoints and credentials between cases)."""
    for factory in (sqs, dynamodb, secretsmanager, events, scheduler):
        factory.cache_clear()
    from calsync.store import bodies  # its S3 client, beside its adapter

    bodies.s3.cache_clear()


class TableAdapter:
    """Base of the adapters over the bookings table: its name, and the DynamoDB client given
    (tests, the CLI) or the cached default, built on first use."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or dynamodb()
