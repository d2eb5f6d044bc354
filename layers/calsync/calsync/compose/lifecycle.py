"""The lifecycle publisher's, the reminder function's and the consumers' (Slack, HTTP forwarder) services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Unpack

from calsync import config
from calsync.aws import clients
from calsync.aws.clients import Aws

if TYPE_CHECKING:
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
    from calsync.lifecycle.aws_ledger import DynamoLedger
    from calsync.lifecycle.aws_scheduler import SchedulerReminders
    from calsync.lifecycle.aws_stream import TableImages


@dataclass(frozen=True, slots=True)
class Reminders:
    images: TableImages
    bus: EventBridgePublisher


def reminders(settings: config.ReminderSettings, **aws: Unpack[Aws]) -> Reminders:
    """The reminder function's services: read the booking back, publish on the bus."""
    from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
    from calsync.lifecycle.aws_stream import TableImages

    clients.use(clients.BATCH)
    images = TableImages(settings.bookings_table_name, aws.get("dynamodb"))
    return Reminders(images, EventBridgePublisher(settings.event_bus_name, aws.get("events")))


@dataclass(frozen=True, slots=True)
class Publisher(Reminders):
    schedules: SchedulerReminders
    leads: tuple[int, ...]
    ended_window: timedelta  # a booking first stored after its end: Booking Ended at once if that recent
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # reminders are planned on it


def publisher(settings: config.PublisherSettings, **aws: Unpack[Aws]) -> Publisher:
    """The lifecycle publisher's services: what reminders have, and where they are scheduled."""
    from calsync.lifecycle.aws_eventbridge import EventBridgePublisher
    from calsync.lifecycle.aws_scheduler import SchedulerReminders

    base = reminders(settings, **aws)
    bus = EventBridgePublisher(settings.event_bus_name, aws.get("events"), recap_text=settings.recap_text_in_events)
    return Publisher(
        base.images,
        bus,
        schedules=SchedulerReminders(
            settings.schedule_group_name,
            settings.reminder_target_arn,
            settings.scheduler_role_arn,
            aws.get("scheduler"),
            dead_letter_arn=settings.reminder_dlq_arn,
        ),
        leads=settings.reminder_lead_seconds,
        ended_window=timedelta(days=settings.late_ended_window_days),
    )


SLACK_CONSUMER, FORWARD_CONSUMER = "slack", "forward"  # their claims' key prefixes (template.yaml's IAM)


@dataclass(frozen=True, slots=True)
class Consumer:
    endpoint: CachedJsonSecret  # where it delivers (the operator's secret)
    ledger: DynamoLedger  # where it claims each event, so it delivers each ``event_id`` once


def consumer(settings: config.SlackSettings | config.ForwarderSettings, **aws: Unpack[Aws]) -> Consumer:
    """The Slack notifier's or the signed HTTP forwarder's services."""
    from calsync.aws.secret_json import CachedJsonSecret
    from calsync.lifecycle.aws_ledger import DynamoLedger

    clients.use(clients.BATCH)
    if isinstance(settings, config.SlackSettings):
        secret, name = settings.slack_secret_name, SLACK_CONSUMER
    else:
        secret, name = settings.forward_secret_name, FORWARD_CONSUMER
    endpoint = CachedJsonSecret(secret, client=aws.get("secretsmanager"), what=name)
    return Consumer(endpoint, DynamoLedger(settings.bookings_table_name, name, aws.get("dynamodb")))
