"""Cached boto3 client factories: built on first use, never at import time, with the
timeouts and retries of the function they run in (``use``, called by the composition root).

How long one AWS call may take, every attempt timing out: ``attempts × (connect + read)``
plus botocore's standard-mode back-off (at most 1 s, 2 s, 4 s … before each retry):

=========  =======  ====  ========  ==========  ==========================================
profile    connect  read  attempts  worst case  functions (their Lambda timeout)
=========  =======  ====  ========  ==========  ==========================================
RECEIVER   0.5 s    1.5 s 2         5 s         receiver (10 s; Calendly reads for 15 s): a
                                                hanging SQS is a 503 within ~5 s
BATCH      1 s      2 s   3         12 s        processors, reminder, Slack, forwarder
                                                (20 s), lifecycle publisher (60 s)
SCHEDULED  2 s      5 s   3         24 s        refresher (300 s), watchdog (120 s),
                                                reconciler (900 s), OAuth callback (30 s),
                                                the CLI (the default)
=========  =======  ====  ========  ==========  ==========================================

The receiver's cold path makes up to three calls (registry check, signing key, queue); a warm
one makes one. Retries are SQS ``SendMessage`` too: a duplicate is recognised downstream.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient


class Aws(TypedDict, total=False):
    """Ready-made clients for ``calsync.compose`` (tests, the CLI's ``--stack`` session, the local
    stack); one not given is built by the factories below when first needed."""

    dynamodb: DynamoDBClient | None
    sqs: SQSClient | None
    secretsmanager: SecretsManagerClient | None
    s3: S3Client | None
    events: EventBridgeClient | None
    scheduler: EventBridgeSchedulerClient | None


MAX_BACKOFF_SECONDS = 20.0  # botocore's standard retry mode: random × 2**(retry - 1), capped


class Timeouts(NamedTuple):
    """One AWS call's limits: connect and read timeouts (seconds) per attempt, and attempts in
    all (the first one included; botocore's ``total_max_attempts``)."""

    connect: float
    read: float
    attempts: int

    @property
    def worst_case_seconds(self) -> float:
        """Every attempt timing out, each retry after the longest back-off."""
        backoff = sum(min(MAX_BACKOFF_SECONDS, 2.0**retry) for retry in range(self.attempts - 1))
        return self.attempts * (self.connect + self.read) + backoff


RECEIVER = Timeouts(connect=0.5, read=1.5, attempts=2)
BATCH = Timeouts(connect=1.0, read=2.0, attempts=3)
SCHEDULED = Timeouts(connect=2.0, read=5.0, attempts=3)

_profile = [SCHEDULED]


def use(timeouts: Timeouts) -> None:
    """The limits of the clients built from now on in this process (a Lambda environment runs
    one function; its composition root calls this before any client is built)."""
    _profile[0] = timeouts


def current() -> Timeouts:
    return _profile[0]


def _config() -> Any:
    from botocore.config import Config

    timeouts = _profile[0]
    return Config(
        connect_timeout=timeouts.connect,
        read_timeout=timeouts.read,
        retries={"mode": "standard", "total_max_attempts": timeouts.attempts},
    )


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


@cache
def s3() -> S3Client:
    """The delivery bodies' client (``calsync.intake.aws_bodies``), built on first use. One attempt (``total_max_attempts``: botocore's
    ``max_attempts`` counts retries) of at most 1 s to connect and 3 s between reads: the receiver puts a body before it enqueues and must answer within ~5 s
    (a failed put is a 503 and Calendly's retry is the retry; a processor's failed get is
    redelivered by its queue)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", config=Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 1})
    )


def reset() -> None:
    """Forget every client and the function's limits (tests switch endpoints and credentials
    between cases)."""
    for factory in (sqs, dynamodb, secretsmanager, events, scheduler):
        factory.cache_clear()
    use(SCHEDULED)
    s3.cache_clear()


class TableAdapter:
    """Base of the adapters over the bookings table: its name, and the DynamoDB client given
    (tests, the CLI) or the cached default, built on first use."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self._client = client

    @property
    def client(self) -> DynamoDBClient:
        return self._client or dynamodb()
