"""The pipeline in memory, for domain tests of what reaches the bus: deliveries applied by the
processors' code to the bookings fake, the table's stream published by the publisher's code to
the bus fake (tests/fakes; tests/contract keeps them true to the AWS adapters)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import jsonschema

from calsync.bookings.process import process_message
from calsync.config import PublisherSettings
from calsync.intake.delivery import message_attributes, message_body
from calsync.lifecycle.events import LifecycleEvent
from calsync.lifecycle.publish import BatchOutcome, Change, publish_changes
from calsync_dev.events import SAMPLES_NOW, delivery_for
from calsync_dev.schemas import schema_path
from tests.fakes.bookings import FakeBookingsRepository
from tests.fakes.lifecycle import FakeBus, FakeImages, FakeSchedules
from tests.fakes.table import MemoryTable

# The publisher's defaults: reminder leads and the late-"Booking Ended" window
LEADS: tuple[int, ...] = PublisherSettings.model_fields["reminder_lead_seconds"].default
ENDED_WINDOW = timedelta(days=PublisherSettings.model_fields["late_ended_window_days"].default)


def kinds(events: list[LifecycleEvent]) -> list[str]:
    """The events' detail types; each detail valid against its schema (as consumers validate it)."""
    for event in events:
        schema = json.loads(schema_path(event.detail_type).read_text())
        jsonschema.validate(json.loads(json.dumps(event.detail)), schema)
    return [event.detail_type.value for event in events]


class Pipeline:
    def __init__(self, now: datetime = SAMPLES_NOW) -> None:
        self.now = now
        self.table = MemoryTable()
        self.repository = FakeBookingsRepository(self.table)
        self.images = FakeImages(self.table)
        self.bus, self.schedules = FakeBus(), FakeSchedules()
        self.outcomes: list[BatchOutcome] = []
        self._records = 0

    def process(self, *bodies: bytes) -> None:
        """Each delivery as a processor applies it from its queue message."""
        for body in bodies:
            delivery = delivery_for(body, connection_id="acme", received_at=self.now)
            attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}
            result = process_message(
                message_body(delivery), attributes, self.repository, now=self.now, archive_ttl=timedelta(days=90)
            )
            assert result.quarantined is None

    def publish(self) -> list[LifecycleEvent]:
        """The stream since the last call, as one batch through the publisher; what reached the bus."""
        changes = []
        for key, old, new in self.table.take_changes():
            self._records += 1
            changes.append(Change(f"{key.pk}/{key.sk}#{self._records}", old, new))
        before = len(self.bus.published)
        outcome = publish_changes(
            changes,
            images=self.images,
            bus=self.bus,
            schedules=self.schedules,
            claims=self.images,
            leads=LEADS,
            now=self.now,
            ended_window=ENDED_WINDOW,
        )
        self.outcomes.append(outcome)
        return self.bus.published[before:]

    def deliver(self, *bodies: bytes) -> list[LifecycleEvent]:
        """Deliveries in, processed, the stream published: the events that reached the bus."""
        self.process(*bodies)
        return self.publish()

    def scheduled(self) -> set[str]:
        """The names of the reminders scheduled now."""
        return set(self.schedules.schedules)

    @property
    def failed(self) -> list[str]:
        """The stream records a batch could not complete (the stream would retry from them)."""
        return [outcome.failed for outcome in self.outcomes if outcome.failed is not None]
