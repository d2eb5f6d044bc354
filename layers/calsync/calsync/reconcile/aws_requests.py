"""SQS adapter for the reconcile-requests queue: the watchdog's ``ReconcileRequests`` port and
the operator's requests (``calsync.reconcile.requests`` is the message contract)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from calsync.aws import clients
from calsync.aws.errors import aws_call
from calsync.reconcile.requests import ReconcileRequest

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsReconcileRequests:
    """The reconcile-requests queue (``calsync.reconcile.requests`` is the message contract)."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self._url = queue_url
        self._client = client

    def send(self, request: ReconcileRequest) -> None:
        client = self._client or clients.sqs()
        with aws_call("sqs:SendMessage (reconcile request)"):
            client.send_message(QueueUrl=self._url, MessageBody=request.message_body())

    def request(self, connection_id: str, *, since: datetime, reason: str, requested_at: datetime) -> None:
        """The watchdog's port (``connections.ports.ReconcileRequests``): ask for a gap reconcile."""
        self.send(ReconcileRequest(connection_id=connection_id, since=since, reason=reason, requested_at=requested_at))
