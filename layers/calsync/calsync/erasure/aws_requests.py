"""Erasure requests on AWS: their records in the bookings table (``requests.ErasureRequests``;
status and counts, the keyed hash, never the address) and the erasure queue
(``requests.ErasureQueue``: the only place the address travels, SSE-SQS, deleted once done)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from calsync import timefmt
from calsync.aws import clients, keys
from calsync.aws.dynamo import conditional, plain_item, serialise
from calsync.aws.errors import aws_call
from calsync.erasure.requests import ErasureJob, ErasureRequest, Status, scope_name

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


def _request(item: Mapping[str, Any]) -> ErasureRequest:
    scope = item.get("scope")
    return ErasureRequest(
        erasure_id=str(item["erasure_id"]),
        connection_id=item.get("connection_id") if scope != "global" else None,
        status=Status(str(item["status"])),
        requested_at=timefmt.parse(str(item["requested_at"])),
        address_hash=str(item["address_hash"]),
        started_at=timefmt.parse(str(item["started_at"])) if item.get("started_at") else None,
        finished_at=timefmt.parse(str(item["finished_at"])) if item.get("finished_at") else None,
        counts={str(k): int(v) for k, v in (item.get("counts") or {}).items()},
        reason=str(item["reason"]) if item.get("reason") else None,
        attempts=int(item.get("attempts") or 0),
        requested_by=str(item["requested_by"]) if item.get("requested_by") else None,
    )


class DynamoErasureRequests(clients.TableAdapter):
    """One item per request (``keys.erasure_request``); every change is one conditional
    UpdateItem, so a done request never goes back to running or failed."""

    def create(self, request: ErasureRequest) -> None:
        key = keys.erasure_request(request.erasure_id)
        item = {
            **key.attributes(),
            "type": "erasure_request",
            "erasure_id": request.erasure_id,
            "scope": scope_name(request.connection_id),
            "connection_id": request.connection_id,
            "status": request.status.value,
            "requested_at": timefmt.sortable(request.requested_at),
            "address_hash": request.address_hash,
            "attempts": 0,
            "requested_by": request.requested_by,
        }
        with aws_call("dynamodb:PutItem (erasure request)"):
            self.client.put_item(
                TableName=self.table_name,
                Item={k: serialise(v) for k, v in item.items() if v is not None},
                ConditionExpression="attribute_not_exists(PK)",
            )

    def get(self, erasure_id: str) -> ErasureRequest | None:
        with aws_call("dynamodb:GetItem (erasure request)"):
            found = self.client.get_item(
                TableName=self.table_name, Key=keys.erasure_request(erasure_id).dynamo(), ConsistentRead=True
            )
        return _request(plain_item(found["Item"])) if "Item" in found else None

    def _update(self, erasure_id: str, values: Mapping[str, Any], *, add_attempt: bool = False) -> bool:
        names = {f"#a{i}": name for i, name in enumerate(values)}
        expression = "SET " + ", ".join(f"#a{i} = :a{i}" for i in range(len(values)))
        attributes = {f":a{i}": serialise(value) for i, value in enumerate(values.values())}
        attributes[":done"] = {"S": Status.DONE.value}
        if add_attempt:
            expression += " ADD attempts :one"
            attributes[":one"] = {"N": "1"}
        return conditional(
            "dynamodb:UpdateItem (erasure request)",
            lambda: self.client.update_item(
                TableName=self.table_name,
                Key=keys.erasure_request(erasure_id).dynamo(),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(PK) AND #status <> :done",
                ExpressionAttributeNames={**names, "#status": "status"},
                ExpressionAttributeValues=attributes,
            ),
        )

    def start(self, erasure_id: str, at: datetime) -> ErasureRequest | None:
        self._update(erasure_id, {"status": Status.RUNNING.value, "started_at": timefmt.sortable(at)}, add_attempt=True)
        return self.get(erasure_id)

    def finish(self, erasure_id: str, at: datetime, counts: Mapping[str, int]) -> None:
        # a reason noted by an earlier attempt that failed stays, for the record
        self._update(
            erasure_id, {"status": Status.DONE.value, "finished_at": timefmt.sortable(at), "counts": dict(counts)}
        )

    def fail(self, erasure_id: str, at: datetime, reason: str, *, final: bool) -> None:
        values: dict[str, Any] = {"reason": reason}
        if final:
            values |= {"status": Status.FAILED.value, "finished_at": timefmt.sortable(at)}
        self._update(erasure_id, values)


class SqsErasureQueue:
    """The erasure queue; a scoped job carries its connection as a message attribute too, so an
    erasure's own queue sweep (``aws_queue_sweep.message_connection``) can tell whose it is."""

    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self._url = queue_url
        self._client = client

    def send(self, job: ErasureJob) -> None:
        client = self._client or clients.sqs()
        attributes: dict[str, Any] = {}
        if job.connection_id:
            attributes["connection_id"] = {"DataType": "String", "StringValue": job.connection_id}
        with aws_call("sqs:SendMessage (erasure request)"):
            client.send_message(QueueUrl=self._url, MessageBody=job.model_dump_json(), MessageAttributes=attributes)
