"""Build the events Lambda gets: API Gateway proxy requests and SQS batches.

Used by tests, the local stack, ``calsync events render`` and to write ``events/``.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from calsync.intake.delivery import Delivery, message_attributes, message_body
from calsync.intake.envelopes import Envelope
from calsync.intake.signature import sign_header

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
DEFAULT_LOCAL_KEY = "calsync-local-signing-key"  # the local stack's documented default
WEBHOOK_PATH = "/webhooks/calendly/{connection_id}"
# A moment after events/webhooks' samples were sent (2026-11-20..22) and before their meetings
# (2026-12-01..03): the clock a publisher runs on for them (``lambda_runtime.set_clock``), so their
# reminders are ahead of it whatever today's date is.
SAMPLES_NOW = datetime(2026, 11, 25, tzinfo=UTC)


def proxy_event(
    *,
    method: str,
    resource: str,
    path: str,
    path_parameters: dict[str, str] | None,
    headers: dict[str, str],
    query: dict[str, list[str]] | None,
    body: bytes,
    base64_encoded: bool = False,
    stage: str = "dev",
    source_ip: str = "127.0.0.1",
    identity: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A REST API (payload v1) proxy integration event, as API Gateway builds it (``identity``:
    the signer's fields API Gateway adds for an AWS_IAM method, calsync_dev.local.sigv4.Caller)."""
    request_id = str(uuid.uuid4())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} if query else None,
        "multiValueQueryStringParameters": dict(query) if query else None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": request_id,
            "requestTimeEpoch": int(time.time() * 1000),
            "identity": {"sourceIp": source_ip, "userAgent": headers.get("User-Agent"), **(identity or {})},
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
        },
        # a text body as API Gateway passes one (no binary media types): UTF-8, undecodable bytes replaced
        "body": (base64.b64encode(body).decode() if base64_encoded else body.decode("utf-8", "replace"))
        if body
        else None,
        "isBase64Encoded": base64_encoded,
    }


def api_gateway_event(
    body: bytes,
    *,
    connection_id: str = "local",
    headers: dict[str, str] | None = None,
    base64_encoded: bool = False,
    stage: str = "dev",
) -> dict[str, Any]:
    """A REST API (v1 payload) proxy event for POST /webhooks/calendly/{connection_id}."""
    all_headers = {"Content-Type": "application/json", "User-Agent": "Calendly-Webhooks", **(headers or {})}
    return proxy_event(
        method="POST",
        resource=WEBHOOK_PATH,
        path=WEBHOOK_PATH.format(connection_id=connection_id),
        path_parameters={"connection_id": connection_id},
        headers=all_headers,
        query=None,
        body=body,
        base64_encoded=base64_encoded,
        stage=stage,
    )


def signed_api_gateway_event(
    body: bytes, key: str, *, connection_id: str = "local", timestamp: int | None = None, base64_encoded: bool = False
) -> dict[str, Any]:
    header = sign_header(key.encode(), body, int(time.time()) if timestamp is None else timestamp)
    return api_gateway_event(
        body,
        connection_id=connection_id,
        headers={"Calendly-Webhook-Signature": header},
        base64_encoded=base64_encoded,
    )


def delivery_for(body: bytes, *, connection_id: str = "local", received_at: datetime | None = None) -> Delivery:
    envelope = Envelope.model_validate_json(body)
    return Delivery(
        connection_id=connection_id,
        received_at=received_at or datetime.now(UTC),
        body_sha256=hashlib.sha256(body).hexdigest(),
        event=envelope.event,
        body=body.decode(),
    )


def sqs_record(delivery: Delivery, *, queue_arn: str, receive_count: int = 1) -> dict[str, Any]:
    """One record as Lambda's SQS event source delivers it (camelCase attribute keys)."""
    attributes = {
        name: {
            "stringValue": value,
            "dataType": "String",
            "stringListValues": [],
            "binaryListValues": [],
        }
        for name, value in message_attributes(delivery).items()
    }
    return {
        "messageId": str(uuid.uuid4()),
        "receiptHandle": uuid.uuid4().hex,
        "body": message_body(delivery),
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(int(delivery.received_at.timestamp() * 1000)),
            "SenderId": "AIDALOCAL",
            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        },
        "messageAttributes": attributes,
        "md5OfBody": hashlib.md5(message_body(delivery).encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3] if queue_arn.count(":") >= 3 else "us-east-1",
    }


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}
