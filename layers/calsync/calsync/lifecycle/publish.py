"""One stored change in, its lifecycle events out on the bus: what the publisher runs per
stream record. Raises ``DependencyUnavailable`` when the bus or the table failed, so the
record is retried (at least once; consumers deduplicate on ``event_id``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from calsync.lifecycle.derive import Image, Images, derive
from calsync.lifecycle.events import LifecycleEvent


class Bus(Protocol):
    def publish(self, events: Sequence[LifecycleEvent]) -> None: ...


def publish_change(old: Image | None, new: Image | None, *, images: Images, bus: Bus) -> list[LifecycleEvent]:
    events = derive(old, new, images)
    if events:
        bus.publish(events)
    return events
