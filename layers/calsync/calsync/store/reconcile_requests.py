"""SQS adapter for the watchdog's ``ReconcileRequests`` port: one message per request on the
reconcile-requests queue, in the contract the reconciler reads (``calsync.reconcile.requests``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from calsync.reconcile.requests import ReconcileRequest
from calsync.store import clients
from calsync.store.errors import aws_call

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsReconcileRequests:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    def request(self, connection_id: str, *, since: datetime, reason: str, requested_at: datetime) -> None:
        message = ReconcileRequest(connection_id=connection_id, since=since, reason=reason, requested_at=requested_at)
        with aws_call("sqs:SendMessage (reconcile request)"):
            (self._client or clients.sqs()).send_message(QueueUrl=self.queue_url, MessageBody=message.message_body())
