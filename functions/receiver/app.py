"""Receiver Lambda: API Gateway (REST) proxy event in, 2xx only once SQS has the delivery."""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReceiverSettings
from calsync.observability import MetricUnit, logger, metrics
from calsync.webhooks.receiver import Outcome, WebhookRequest, receive


@cache
def services() -> compose.Receiver:
    return compose.receiver(ReceiverSettings.from_env())


def to_response(outcome: Outcome) -> dict[str, Any]:
    return {
        "statusCode": outcome.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(outcome.body()),
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ports = services()
    request = WebhookRequest(
        connection_id=(event.get("pathParameters") or {}).get("connection_id"),
        headers=event.get("headers") or {},
        body=event.get("body"),
        is_base64_encoded=bool(event.get("isBase64Encoded")),
    )
    outcome = receive(request, keys=ports.keys, queue=ports.queue, limits=ports.limits, now=time.time())
    fields: dict[str, object] = {
        "connection_id": request.connection_id,
        "status": outcome.status,
        "reason": outcome.detail,
        "event": outcome.event,
        "queue": outcome.queue,
    }
    if outcome.accepted:
        metrics.add_metric(name="WebhookAccepted", unit=MetricUnit.Count, value=1)
        logger.info("webhook accepted", extra=fields)
    else:
        metrics.add_metric(name=f"WebhookRejected_{outcome.error}", unit=MetricUnit.Count, value=1)
        log = logger.error if outcome.status >= 500 else logger.warning
        log("webhook rejected", extra=fields)
    return to_response(outcome)
