"""Receiver Lambda: API Gateway (REST) proxy event in, 2xx only once SQS has the delivery."""

from __future__ import annotations

import json
import time
from functools import cache
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync.config import receiver_settings
from calsync.observability import MetricUnit, logger, metrics
from calsync.store.queues import SqsDeliveryQueue
from calsync.store.secrets import SecretsManagerSigningKeys
from calsync.webhooks.receiver import Outcome, ReceiverLimits, WebhookRequest, receive
from calsync.webhooks.routing import QueueKind


@cache
def _ports() -> tuple[SecretsManagerSigningKeys, SqsDeliveryQueue, ReceiverLimits]:
    settings = receiver_settings()
    keys = SecretsManagerSigningKeys(settings.signing_key_prefix, ttl_seconds=settings.signing_key_cache_seconds)
    queue = SqsDeliveryQueue(
        {
            QueueKind.INVITEE_CREATED: settings.invitee_created_queue_url,
            QueueKind.INVITEE_CANCELED: settings.invitee_canceled_queue_url,
            QueueKind.INVITEE_NO_SHOW: settings.invitee_no_show_queue_url,
            QueueKind.ROUTING_FORM: settings.routing_form_queue_url,
            QueueKind.OTHER: settings.other_queue_url,
        }
    )
    limits = ReceiverLimits(settings.signature_tolerance_seconds, settings.max_body_bytes)
    return keys, queue, limits


def to_response(outcome: Outcome) -> dict[str, Any]:
    return {
        "statusCode": outcome.status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(outcome.body()),
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    keys, queue, limits = _ports()
    request = WebhookRequest(
        connection_id=(event.get("pathParameters") or {}).get("connection_id"),
        headers=event.get("headers") or {},
        body=event.get("body"),
        is_base64_encoded=bool(event.get("isBase64Encoded")),
    )
    outcome = receive(request, keys=keys, queue=queue, limits=limits, now=time.time())
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
