"""EventBridge adapter for the lifecycle publisher's ``Bus`` port: events put on the bus."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from calsync.aws import clients
from calsync.aws.errors import aws_call
from calsync.lifecycle.derive import without_recap_text
from calsync.lifecycle.events import SOURCE, LifecycleEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

PUT_EVENTS_BATCH = 10  # EventBridge's limit of entries per PutEvents call
PUT_EVENTS_BYTES = 256 * 1024  # and of the request's size


class EventBridgePublisher:
    """Puts lifecycle events on the bus, up to ``PUT_EVENTS_BATCH`` entries (and
    ``PUT_EVENTS_BYTES``) per call; entries the bus refused (``FailedEntryCount``: PutEvents
    can fail part of a call) are sent again, alone, up to ``attempts`` times in all. A meeting
    recap's text leaves only with ``recap_text`` (the stack's ``RecapTextInEvents``; personal data)."""

    def __init__(
        self, bus_name: str, client: EventBridgeClient | None = None, *, attempts: int = 3, recap_text: bool = False
    ) -> None:
        self.bus_name = bus_name
        self._client = client
        self.attempts = attempts
        self.recap_text = recap_text

    def _entry(self, event: LifecycleEvent) -> PutEventsRequestEntryTypeDef:
        if not self.recap_text:
            event = without_recap_text(event)
        return {
            "Source": SOURCE,
            "DetailType": event.detail_type.value,
            "Detail": json.dumps(event.detail, separators=(",", ":")),
            "EventBusName": self.bus_name,
        }

    def publish(self, events: Sequence[LifecycleEvent]) -> set[int]:
        """The positions of the events still refused after ``attempts`` (empty: all on the bus);
        raises ``DependencyUnavailable`` if a call itself failed (after the SDK's retries)."""
        client = self._client or clients.events()
        pending = [(position, self._entry(event)) for position, event in enumerate(events)]
        for _ in range(self.attempts):
            refused: list[tuple[int, PutEventsRequestEntryTypeDef]] = []
            for chunk in _chunks(pending):
                with aws_call("events:PutEvents"):
                    answer = client.put_events(Entries=[entry for _, entry in chunk])
                if answer.get("FailedEntryCount"):
                    results = answer.get("Entries", [])
                    refused += [item for item, result in zip(chunk, results, strict=False) if result.get("ErrorCode")]
                    refused += chunk[len(results) :]  # no result for an entry: not known to be on the bus
            pending = refused
            if not pending:
                break
        return {position for position, _ in pending}


def _entry_size(entry: PutEventsRequestEntryTypeDef) -> int:
    """PutEvents' size rule: UTF-8 bytes of Source, DetailType and Detail (plus 14 with a Time)."""
    return sum(len(str(entry.get(name, "")).encode()) for name in ("Source", "DetailType", "Detail"))


def _chunks[T](
    entries: Sequence[tuple[T, PutEventsRequestEntryTypeDef]],
) -> list[list[tuple[T, PutEventsRequestEntryTypeDef]]]:
    """At most ``PUT_EVENTS_BATCH`` entries and ``PUT_EVENTS_BYTES`` per call."""
    chunks: list[list[tuple[T, PutEventsRequestEntryTypeDef]]] = []
    size = 0
    for item in entries:
        entry_size = _entry_size(item[1])
        if not chunks or len(chunks[-1]) >= PUT_EVENTS_BATCH or size + entry_size > PUT_EVENTS_BYTES:
            chunks.append([])
            size = 0
        chunks[-1].append(item)
        size += entry_size
    return chunks
