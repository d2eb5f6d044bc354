"""Reminder Lambda: a one-time schedule fired; publish ``Booking Starting Soon`` / ``Booking
Ended`` if the booking is still active at the time the reminder was made for. One INFO line
per firing; ``LifecycleEventsPublished`` and ``RemindersSkipped`` are counted from it by metric
filters (template.yaml), so no EMF line is written."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import ReminderSettings
from calsync.lifecycle.publish import fire_reminder
from calsync.observability import logger


@cache
def services() -> compose.Reminders:
    return compose.reminders(ReminderSettings.from_env())


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.clear_state()  # nothing carried over from an earlier invocation (or another handler in-process)
    ports = services()
    published = fire_reminder(event, images=ports.images, bus=ports.bus)
    if published is None:  # the booking moved, was canceled or is gone
        logger.info("reminder fired", extra={"kind": event.get("detail_type"), "events": 0, "skipped": 1})
        return {"published": None}
    logger.info(
        "reminder fired",
        extra={"kind": published.detail_type.value, "event_id": published.event_id, "events": 1, "skipped": 0},
    )
    return {"published": published.event_id}
