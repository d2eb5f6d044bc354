"""The lifecycle's ports in memory: ``Images`` and ``Claims`` over the bookings table
(``TableImages``), the ``Bus`` (``EventBridgePublisher``), ``Schedules`` (``SchedulerReminders``)
and a consumer's ``Ledger`` (``DynamoLedger``). tests/contract/test_lifecycle.py runs the same
behaviour against the AWS adapters on moto."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from calsync.aws import keys
from calsync.bookings.records import InviteeRef, last_segment
from calsync.errors import DependencyUnavailable
from calsync.lifecycle.events import LifecycleEvent
from calsync.lifecycle.once import CLAIM_TTL, LEASE, Claim
from calsync.lifecycle.reminders import Reminder
from tests.fakes.table import MemoryTable

PENDING, SENT = "pending", "sent"


class FakeImages:
    """``Images`` and ``Claims``: stored items read from the table (as the stream carries them,
    without keys), and the first claim of a reschedule's announcement, kept on the new invitee."""

    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table if table is not None else MemoryTable()

    @classmethod
    def of(cls, *items: Mapping[str, Any]) -> FakeImages:
        """A table holding ``items`` (invitees and scheduled events), each stored under its ``uri``."""
        images = cls()
        for item in items:
            images.add(item)
        return images

    def add(self, item: Mapping[str, Any], *, uri: str | None = None) -> None:
        """Store ``item`` (an invitee or a scheduled event) under ``uri``, by default its own."""
        uri = uri or str(item["uri"])
        ref = InviteeRef.from_uri(uri)
        key = keys.invitee(ref.event_uuid, ref.invitee_uuid) if ref else keys.event(str(last_segment(uri)))
        self.table.put(key, item)

    def invitee(self, uri: str) -> dict[str, Any] | None:
        ref = InviteeRef.from_uri(uri)
        return self.table.item(keys.invitee(ref.event_uuid, ref.invitee_uuid)) if ref else None

    def scheduled_event(self, uri: str) -> dict[str, Any] | None:
        uuid = last_segment(uri)
        return self.table.item(keys.event(uuid)) if uuid else None

    def event_type(self, tenant: str, uri: str) -> dict[str, Any] | None:
        uuid = last_segment(uri)
        return self.table.item(keys.resource("event_type", tenant, uuid)) if uuid else None

    def read_ahead(self, images: Iterable[Mapping[str, Any] | None], *, invitees: Iterable[str] = ()) -> None:
        """Nothing to read ahead in memory (``TableImages`` batches its reads)."""

    def forget(self) -> None:
        """See ``read_ahead``."""

    def claim_reschedule(self, new_invitee_uri: str, event_id: str, *, claimant: str) -> bool:
        ref = InviteeRef.from_uri(new_invitee_uri)
        if ref is None:
            return True
        self.table.check("claim_reschedule")
        key = keys.invitee(ref.event_uuid, ref.invitee_uuid)
        stored = self.table.item(key) or {}
        if "reschedule_event" in stored and stored.get("reschedule_claimant") != claimant:
            return False
        self.table.update(key, {"reschedule_event": event_id, "reschedule_claimant": claimant})
        return True


class FakeBus:
    """The event bus: ``published`` in order; ``calls`` the batches ``publish`` was given.
    ``refuse``: positions (in a call) the bus refuses; ``fail``: a call fails outright."""

    def __init__(self, refuse: Iterable[int] = ()) -> None:
        self.published: list[LifecycleEvent] = []
        self.calls: list[list[LifecycleEvent]] = []
        self.refuse = set(refuse)
        self.fail = False

    def publish(self, events: Sequence[LifecycleEvent]) -> set[int]:
        self.calls.append(list(events))
        if self.fail:
            raise DependencyUnavailable("events:PutEvents failed: ServiceUnavailable")
        refused = self.refuse & set(range(len(events)))
        self.published += [event for position, event in enumerate(events) if position not in refused]
        return refused


class FakeSchedules:
    """One-time reminders by name: a put of a name that exists moves it, a delete of one gone
    is fine. ``failing``: the invitee URI whose reminders the scheduler refuses."""

    def __init__(self, failing: str | None = None) -> None:
        self.schedules: dict[str, Reminder] = {}
        self.failing = failing
        self.put_names: list[str] = []
        self.deleted: list[str] = []

    def put(self, reminder: Reminder) -> None:
        if self.failing and reminder.invitee_uri == self.failing:
            raise DependencyUnavailable("scheduler:CreateSchedule failed: ThrottlingException")
        self.put_names.append(reminder.name)
        self.schedules[reminder.name] = reminder

    def delete(self, name: str) -> None:
        self.deleted.append(name)
        self.schedules.pop(name, None)


class FakeLedger:
    """One consumer's claims on lifecycle events, with ``DynamoLedger``'s rules: a claim is taken
    when new, or pending and this claimant's own or past its lease; a sent one is a copy; a
    pending one of another claimant is held. ``fail``: operations (``claim``, ``confirm``,
    ``release``) that raise ``DependencyUnavailable``."""

    def __init__(self, consumer: str = "slack", table: MemoryTable | None = None) -> None:
        self.consumer = consumer
        self.table = table if table is not None else MemoryTable()
        self.fail: set[str] = set()

    def _check(self, operation: str) -> None:
        if operation in self.fail:
            raise DependencyUnavailable(f"dynamodb {operation} failed")
        self.table.check(operation)

    def _key(self, event_id: str) -> keys.Key:
        return keys.consumed(self.consumer, event_id)

    @property
    def claims(self) -> dict[str, dict[str, Any]]:
        """This consumer's claims by event id (``state``, ``claimant``, ``lease_until``...)."""
        prefix = keys.consumed_prefix(self.consumer)
        return {
            key.pk.removeprefix(prefix): dict(item)
            for key, item in self.table.items.items()
            if key.pk.startswith(prefix)
        }

    def claim(self, event_id: str, *, claimant: str, now: datetime) -> Claim:
        self._check("claim")
        key = self._key(event_id)
        held = self.table.item(key)
        if held is None or (
            held.get("state") == PENDING
            and (held.get("claimant") == claimant or held.get("lease_until", 0) < int(now.timestamp()))
        ):
            self.table.put(
                key,
                {
                    "type": "consumed",
                    "consumer": self.consumer,
                    "state": PENDING,
                    "claimant": claimant,
                    "lease_until": int((now + LEASE).timestamp()),
                    "expires_at": int((now + CLAIM_TTL).timestamp()),
                },
            )
            return Claim.TAKEN
        if held.get("state") == SENT:
            self.table.update(key, {"copies": int(held.get("copies", 0)) + 1})
            return Claim.SENT
        return Claim.HELD

    def confirm(self, event_id: str, *, claimant: str) -> None:
        self._check("confirm")
        key = self._key(event_id)
        held = self.table.item(key)
        if held is None:
            return
        held.pop("lease_until", None)
        self.table.put(key, {**held, "state": SENT, "claimant": claimant})

    def release(self, event_id: str, *, claimant: str) -> None:
        self._check("release")
        key = self._key(event_id)
        held = self.table.item(key)
        if held is not None and held.get("claimant") == claimant and held.get("state") == PENDING:
            self.table.delete(key)
