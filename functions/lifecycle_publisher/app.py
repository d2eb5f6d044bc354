"""Lifecycle publisher Lambda: the bookings table's stream in, lifecycle events on the bus.

Events come from old vs new images (a write that changed nothing publishes nothing). The
events of the whole batch go on the bus together (up to 10 per PutEvents call, refused entries
sent again); the first record that could not be completed is reported (``batchItemFailures``)
and the stream retries from it, so a crash between the table write and the publish loses
nothing. One INFO line per batch (the events' ids and the reminders' counts);
LifecycleEventsPublished is counted from it by a metric filter (template.yaml).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from calsync import compose
from calsync.config import PublisherSettings
from calsync.lifecycle.aws_stream import stream_change
from calsync.lifecycle.publish import announced, publish_changes
from calsync.observability import logger


@cache
def services() -> compose.Publisher:
    return compose.publisher(PublisherSettings.from_env())


def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    logger.clear_state()  # nothing carried over from an earlier invocation (or another handler in-process)
    logger.set_correlation_id(None)  # the lifecycle event ids are this line's correlation ids
    ports = services()
    changes = [stream_change(record) for record in event.get("Records") or []]
    try:
        # The scheduled events, and the bookings that may be announced (as they are now), in one call
        ports.images.read_ahead((c.new for c in changes), invitees=announced(changes))
        outcome = publish_changes(
            changes,
            images=ports.images,
            bus=ports.bus,
            schedules=ports.schedules,
            claims=ports.images,
            leads=ports.leads,
            now=ports.clock(),
            ended_window=ports.ended_window,
        )
    finally:
        ports.images.forget()
    counts = {"scheduled": outcome.scheduled, "dropped": outcome.dropped}
    fields: dict[str, object] = {
        "records": len(event.get("Records") or []),
        "events": len(outcome.published),
        **{k: v for k, v in counts.items() if v},
        "event_ids": [e.event_id for e in outcome.published],
    }
    if outcome.failed is None:
        logger.info("stream batch published", extra=fields)  # the metric filter's line: one message
        return {"batchItemFailures": []}
    logger.info("stream batch published", extra={**fields, "failed": 1, "error": outcome.error})
    return {"batchItemFailures": [{"itemIdentifier": outcome.failed}]}
