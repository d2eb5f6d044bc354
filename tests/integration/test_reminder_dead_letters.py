"""A reminder EventBridge Scheduler cannot hand to the reminder function (function gone, role
broken, throttled past its retries) is dead-lettered, not dropped: every schedule the publisher
creates or moves carries the dead-letter queue the template declares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import boto3

from calsync import compose
from calsync.config import PublisherSettings
from calsync.lifecycle.events import DetailType
from calsync.lifecycle.reminders import Reminder
from calsync_dev.provision import Stack

INVITEE = "https://api.calendly.com/scheduled_events/EV1/invitees/IN1"


def _reminder(start: datetime, lead: int) -> Reminder:
    return Reminder(
        name=f"IN1-soon-{lead}",
        at=start - timedelta(seconds=lead),
        detail_type=DetailType.BOOKING_STARTING_SOON,
        invitee_uri=INVITEE,
        start_time=start.isoformat().replace("+00:00", "Z"),
        lead_seconds=lead,
    )


def test_every_reminder_schedule_dead_letters_to_the_templates_queue(stack: Stack) -> None:
    # Given the publisher's services built from its environment as deployed (template.yaml)
    settings = PublisherSettings.from_env(stack.env("LifecyclePublisherFunction"))
    scheduler = boto3.client("scheduler")
    publisher = compose.publisher(settings, scheduler=scheduler)
    group = settings.schedule_group_name
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    dlq = stack.queue_arns["ReminderScheduleDLQ"]
    # When a reminder is scheduled
    publisher.schedules.put(_reminder(start, 3600))
    # Then its target names the dead-letter queue (and the retries before it)
    target = scheduler.get_schedule(Name="IN1-soon-3600", GroupName=group)["Target"]
    assert target["DeadLetterConfig"] == {"Arn": dlq}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    assert target["RoleArn"] == settings.scheduler_role_arn
    # And a reminder moved with its booking keeps it
    publisher.schedules.put(_reminder(start + timedelta(hours=2), 3600))
    moved = scheduler.get_schedule(Name="IN1-soon-3600", GroupName=group)
    assert moved["ScheduleExpression"] == f"at({(start + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M:%S')})"
    assert moved["Target"]["DeadLetterConfig"] == {"Arn": dlq}
