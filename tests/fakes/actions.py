"""The actions' ports in memory: Calendly's Scheduling API (``FakeScheduling``), the stored
bookings read back from a ``FakeBookingsRepository``'s table, and idempotency records."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from calsync.actions.idempotency import LEASE_SECONDS, TTL_SECONDS, Kept
from calsync.actions.requests import Answer
from calsync.aws import keys
from calsync.calendly.errors import CalendlyError
from calsync.calendly.models import Invitee, InviteeNoShow, ScheduledEvent
from calsync.connections.records import Connection
from tests.fakes.table import MemoryTable

API = "https://api.calendly.com"


class FakeScheduling:
    """One Calendly account: invitees and events it holds; ``fail`` maps a method to the error it
    raises once; ``calls`` names each call."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.events: dict[str, dict[str, Any]] = {}
        self.invitees: dict[str, dict[str, Any]] = {}
        self.fail: dict[str, CalendlyError] = {}
        self.calls: list[str] = []
        self.closed = 0
        self._next = 0

    def __enter__(self) -> FakeScheduling:
        return self

    def __exit__(self, *_: object) -> None:
        self.closed += 1

    def _call(self, name: str) -> None:
        self.calls.append(name)
        if name in self.fail:
            raise self.fail.pop(name)

    def _stamp(self) -> str:
        return self.now.isoformat().replace("+00:00", "Z")

    def create_invitee(self, body: dict[str, Any]) -> Invitee:
        self._call("create_invitee")
        self._next += 1
        event_uuid, invitee_uuid = f"EV{self._next:04d}", f"IN{self._next:04d}"
        start = datetime.fromisoformat(body["start_time"])
        event_uri = f"{API}/scheduled_events/{event_uuid}"
        self.events[event_uuid] = {
            "uri": event_uri,
            "name": "Intro call",
            "status": "active",
            "start_time": body["start_time"],
            "end_time": (start + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
            "event_type": body["event_type"],
            "created_at": self._stamp(),
            "updated_at": self._stamp(),
        }
        self.invitees[invitee_uuid] = {
            "uri": f"{event_uri}/invitees/{invitee_uuid}",
            "event": event_uri,
            "status": "active",
            "email": body["invitee"]["email"],
            "name": body["invitee"]["name"],
            "timezone": body["invitee"]["timezone"],
            "questions_and_answers": body.get("questions_and_answers", []),
            "created_at": self._stamp(),
            "updated_at": self._stamp(),
            "no_show": None,
        }
        return Invitee.model_validate(self.invitees[invitee_uuid])

    def get_invitee(self, event: str, invitee: str) -> Invitee:
        self._call("get_invitee")
        return Invitee.model_validate(self.invitees[invitee.rpartition("/")[2]])

    def get_scheduled_event(self, uuid_or_uri: str) -> ScheduledEvent:
        self._call("get_scheduled_event")
        return ScheduledEvent.model_validate(self.events[uuid_or_uri.rpartition("/")[2]])

    def cancel_scheduled_event(self, event: str, reason: str | None = None) -> None:
        self._call("cancel_scheduled_event")
        cancellation = {"canceled_by": "Host", "reason": reason, "canceler_type": "host", "created_at": self._stamp()}
        self.events[event].update(status="canceled", updated_at=self._stamp(), cancellation=cancellation)
        for invitee in self.invitees.values():
            if invitee["event"].endswith(f"/{event}"):
                invitee.update(status="canceled", updated_at=self._stamp(), cancellation=cancellation)

    def create_invitee_no_show(self, invitee_uri: str) -> InviteeNoShow:
        self._call("create_invitee_no_show")
        mark = {"uri": f"{API}/invitee_no_shows/NS{len(self.calls)}", "created_at": self._stamp()}
        self.invitees[invitee_uri.rpartition("/")[2]]["no_show"] = mark
        return InviteeNoShow.model_validate({**mark, "invitee": invitee_uri})

    def delete_invitee_no_show(self, uuid_or_uri: str) -> None:
        self._call("delete_invitee_no_show")
        for invitee in self.invitees.values():
            if (invitee.get("no_show") or {}).get("uri", "").endswith(uuid_or_uri.rpartition("/")[2]):
                invitee["no_show"] = None


class FakeCalendlyAccess:
    def __init__(self, api: FakeScheduling) -> None:
        self.api = api
        self.connections: list[str] = []

    def client_for(self, connection: Connection) -> FakeScheduling:
        self.connections.append(connection.connection_id)
        return self.api


class FakeActionBookings:
    """``ActionBookings`` over a ``FakeBookingsRepository``'s table."""

    def __init__(self, table: MemoryTable) -> None:
        self.table = table

    def find(self, connection_id: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        for key in list(self.table.items):
            if key.sk == keys.invitee_sk(invitee_uuid):
                return self.read(connection_id, key.pk.partition("#")[2], invitee_uuid)
        return None

    def read(self, connection_id: str, event_uuid: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        invitee = self.table.item(keys.invitee(event_uuid, invitee_uuid))
        if invitee is None or invitee.get("tenant") != connection_id:
            return None
        event = self.table.item(keys.event(event_uuid)) or {}
        return {
            **invitee,
            "event_uuid": event_uuid,
            "invitee_uuid": invitee_uuid,
            "start_time": event.get("start_time") or invitee.get("start_time"),
            "event_name": invitee.get("event_name") or event.get("name"),
            "event_type": event.get("event_type"),
        }


class FakeIdempotency:
    def __init__(self) -> None:
        self.records: dict[tuple[str, str], dict[str, Any]] = {}

    def claim(self, connection_id: str, key: str, fingerprint: str, *, now: int) -> Kept | None:
        found = self.records.get((connection_id, key))
        free = (
            found is None or found["expires_at"] < now or (found.get("status") is None and found["lease_until"] < now)
        )
        if free:
            self.records[(connection_id, key)] = {
                "fingerprint": fingerprint,
                "lease_until": now + LEASE_SECONDS,
                "expires_at": now + TTL_SECONDS,
            }
            return None
        assert found is not None
        return Kept(found["fingerprint"], found.get("status"), found.get("booking"), found.get("body"))

    def keep(self, connection_id: str, key: str, answer: Answer, *, now: int) -> None:
        record = self.records[(connection_id, key)]
        record.update(status=answer.status, booking=answer.booking, body=None if answer.booking else dict(answer.body))

    def release(self, connection_id: str, key: str) -> None:
        self.records.pop((connection_id, key), None)


def now() -> datetime:
    return datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
