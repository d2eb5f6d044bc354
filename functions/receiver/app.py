"""Receiver Lambda: API Gateway (REST) proxy event in, 2xx only once SQS has the delivery."""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReceiverSettings
from calsync.intake.receive import Reply, WebhookRequest, receive
from calsync.observability import MetricUnit, flush_metrics, logger, metrics


@cache
def services() -> compose.Receiver:
    return compose.receiver(ReceiverSettings.from_env())


def to_response(outcome: Reply) -> dict[str, Any]:
    return {
        "statusCode": outcome.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(outcome.body()),
    }


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ports = services()
    # One line per request: the API request id links it to API Gateway's access log.
    logger.clear_state()  # nothing carried over from an earlier invocation (or another handler in-process)
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    request = WebhookRequest(
        connection_id=(event.get("pathParameters") or {}).get("connection_id"),
        headers=event.get("headers") or {},
        body=event.get("body"),
        is_base64_encoded=bool(event.get("isBase64Encoded")),
    )
    outcome = receive(request, keys=ports.keys, queue=ports.queue, limits=ports.limits, now=time.time())
    if outcome.accepted:
        # WebhookAccepted is counted from this line by a metric filter (template.yaml): no EMF line.
        logger.info(
            "webhook accepted",
            extra={"connection_id": request.connection_id, "event": outcome.event, "queue": outcome.queue},
        )
    else:
        metrics.add_metric(name=f"WebhookRejected_{outcome.error}", unit=MetricUnit.Count, value=1)
        log = logger.error if outcome.status >= 500 else logger.warning
        fields = {"connection_id": request.connection_id, "status": outcome.status, "reason": outcome.detail}
        log("webhook rejected", extra={**fields, "event": outcome.event, "queue": outcome.queue})
        flush_metrics()
    return to_response(outcome)
