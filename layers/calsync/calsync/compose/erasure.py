"""Erasure: the tombstones every writer checks, and what ``erasure.erase`` sweeps and records."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Unpack

from calsync import config
from calsync.aws import clients
from calsync.aws.clients import Aws
from calsync.compose.intake import delivery_bodies

if TYPE_CHECKING:
    from calsync.erasure.aws_requests import DynamoErasureRequests, SqsErasureQueue
    from calsync.erasure.aws_tombstones import DynamoTombstones
    from calsync.erasure.erase import ErasureStores


def tombstones(table_name: str, erasure_key_secret_name: str, **aws: Unpack[Aws]) -> DynamoTombstones:
    """Erased people: ``.is_erased(email, at)`` (one GetItem; the hash key read once per cold start)."""
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.erasure.aws_tombstones import DynamoTombstones

    secretsmanager = aws.get("secretsmanager")
    key = CachedJsonSecret(erasure_key_secret_name, client=secretsmanager, ttl_seconds=float("inf"), what="erasure key")
    return DynamoTombstones(table_name, key, aws.get("dynamodb"))


def erasure(
    table_name: str,
    erasure_key_secret_name: str,
    queues: Mapping[str, str],
    *,
    bodies_bucket: str | None = None,
    wait_seconds: int = 1,
    **aws: Unpack[Aws],
) -> ErasureStores:
    """Everything ``erasure.erase`` sweeps and records: the table, ``queues`` (name → URL of
    every queue whose messages may carry an address), the delivery-bodies bucket; the tombstone
    and the audit record. ``wait_seconds``: each queue receive's long poll (0 for emulators)."""
    from calsync.erasure.aws_queue_sweep import SqsQueueSweep
    from calsync.erasure.aws_sweep import BucketSweep, TableSweep
    from calsync.erasure.aws_tombstones import ErasureAudit
    from calsync.erasure.erase import ErasureStores

    dynamodb = aws.get("dynamodb") or clients.dynamodb()
    bodies = delivery_bodies(bodies_bucket, **aws)
    return ErasureStores(
        tombstones=tombstones(table_name, erasure_key_secret_name, **aws),
        items=TableSweep(table_name, dynamodb, bodies),
        queues=SqsQueueSweep(aws.get("sqs") or clients.sqs(), queues, wait_seconds=wait_seconds, bodies=bodies),
        audit=ErasureAudit(table_name, dynamodb),
        bodies=BucketSweep(bodies) if bodies is not None else None,
    )


@dataclass(frozen=True, slots=True)
class ErasureApi:
    """The erasure API's services: request records, the worker's queue, whether a connection is
    registered, and the keyed hash the request record keeps."""

    requests: DynamoErasureRequests
    queue: SqsErasureQueue
    exists: Callable[[str], bool]
    address_hash: Callable[[str], str]


def erasure_api(settings: config.ErasureApiSettings, **aws: Unpack[Aws]) -> ErasureApi:
    from calsync.connections.aws_registry import DynamoConnectionIds
    from calsync.erasure.aws_requests import DynamoErasureRequests, SqsErasureQueue

    table = settings.bookings_table_name
    return ErasureApi(
        requests=DynamoErasureRequests(table, aws.get("dynamodb")),
        queue=SqsErasureQueue(settings.erasure_queue_url, aws.get("sqs")),
        exists=DynamoConnectionIds(table, aws.get("dynamodb")).exists,
        address_hash=tombstones(table, settings.erasure_key_secret_name, **aws).address_hash,
    )


@dataclass(frozen=True, slots=True)
class ErasureWorker:
    """The erasure worker's services: request records and everything ``erasure.erase`` sweeps."""

    requests: DynamoErasureRequests
    stores: ErasureStores
    max_receives: int


def erasure_worker(settings: config.ErasureWorkerSettings, **aws: Unpack[Aws]) -> ErasureWorker:
    from calsync.erasure.aws_requests import DynamoErasureRequests

    table = settings.bookings_table_name
    return ErasureWorker(
        requests=DynamoErasureRequests(table, aws.get("dynamodb")),
        stores=erasure(
            table,
            settings.erasure_key_secret_name,
            settings.erasure_sweep_queues,
            bodies_bucket=settings.delivery_bodies_bucket,
            wait_seconds=settings.erasure_sweep_wait_seconds,
            **aws,
        ),
        max_receives=settings.erasure_max_receives,
    )
