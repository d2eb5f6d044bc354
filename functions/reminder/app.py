"""Reminder Lambda: a one-time schedule fired; publish ``Booking Starting Soon`` / ``Booking
Ended`` if the booking is still active at the time the reminder was made for."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReminderSettings
from calsync.lifecycle.publish import fire_reminder
from calsync.observability import MetricUnit, logger, metrics


@cache
def services() -> compose.Reminders:
    return compose.reminders(ReminderSettings.from_env())


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    ports = services()
    published = fire_reminder(event, images=ports.images, bus=ports.bus)
    if published is None:
        metrics.add_metric(name="RemindersSkipped", unit=MetricUnit.Count, value=1)
        logger.info("reminder skipped: booking moved, canceled or gone", extra={"kind": event.get("detail_type")})
        return {"published": None}
    metrics.add_metric(name="LifecycleEventsPublished", unit=MetricUnit.Count, value=1)
    logger.info(
        "lifecycle event published",
        extra={"detail_type": published.detail_type.value, "event_id": published.event_id},
    )
    return {"published": published.event_id}
