"""SQS adapter for a job's work queue (``fanout.ports.WorkQueue``) and the worker's re-sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from calsync.aws import clients
from calsync.aws.errors import aws_call
from calsync.fanout.ports import BATCH_LIMIT
from calsync.fanout.work import Message, WorkUnit

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsWorkQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.url = queue_url
        self._client = client

    @property
    def client(self) -> SQSClient:
        return self._client or clients.sqs()

    def send_batch(self, messages: list[Message]) -> list[str]:
        if len(messages) > BATCH_LIMIT:
            raise ValueError(f"at most {BATCH_LIMIT} messages per SendMessageBatch")
        entries = [{"Id": m.id, "MessageBody": m.body, "DelaySeconds": m.delay} for m in messages]
        with aws_call("sqs:SendMessageBatch (work units)"):
            answer = self.client.send_message_batch(QueueUrl=self.url, Entries=entries)  # type: ignore[arg-type]
        return [failed["Id"] for failed in answer.get("Failed", [])]

    def requeue(self, unit: WorkUnit, delay: int) -> None:
        with aws_call("sqs:SendMessage (work unit put off)"):
            self.client.send_message(QueueUrl=self.url, MessageBody=unit.to_body(), DelaySeconds=delay)
