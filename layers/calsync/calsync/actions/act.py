"""The actions' use cases: book, cancel, mark and clear a no-show on one connection.

Each one calls Calendly on the connection's managed token (``CalendlyAccess.client_for``: the
one place the connection's shared Calendly budget plugs in), then stores what Calendly now holds
as the webhook Calendly will send about it (the reconciler's derivation, the processors'
``apply_delivery``): the same version rules, so whichever of the two is stored first, the other
changes nothing a consumer sees, and no lifecycle event is published twice.

Once Calendly has acted, the answer is kept under the request's ``Idempotency-Key`` before
anything else; a failure to read back or store the result then leaves the booking to its
webhook (and the reconciler), and the answer stays the booking's current stored view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from calsync.actions.idempotency import Commit, IdempotencyStore, fingerprint, once
from calsync.actions.refusals import refusal
from calsync.actions.requests import ActionRefused, Answer, BookRequest, CancelRequest
from calsync.bookings.apply import apply_delivery
from calsync.bookings.records import BookingsRepository, InviteeRef
from calsync.calendly.errors import CalendlyError
from calsync.calendly.models import Invitee, InviteeNoShow, ScheduledEvent, WebhookEvent
from calsync.connections.records import Connection
from calsync.erasure.rules import ErasedIn
from calsync.intake.envelopes import InviteeEnvelope, InviteePayload, NoShowEnvelope
from calsync.read.bookings import BookingView
from calsync.reconcile.deliveries import Envelope, delivery, stamp_of, state_envelope


class SchedulingApi(AbstractContextManager[Any], Protocol):
    """What the actions need of Calendly (``calendly.client.CalendlyClient`` has it all)."""

    def create_invitee(self, body: dict[str, Any]) -> Invitee: ...
    def get_invitee(self, event: str, invitee: str) -> Invitee: ...
    def get_scheduled_event(self, uuid_or_uri: str) -> ScheduledEvent: ...
    def cancel_scheduled_event(self, event: str, reason: str | None = None) -> None: ...
    def create_invitee_no_show(self, invitee_uri: str) -> InviteeNoShow: ...
    def delete_invitee_no_show(self, uuid_or_uri: str) -> None: ...


class CalendlyAccess(Protocol):
    def client_for(self, connection: Connection) -> SchedulingApi:
        """A client on the connection's managed token that spends the connection's Calendly
        budget on every request (the seam the shared per-connection budget plugs into)."""
        ...


class ConnectionLookup(Protocol):
    def get(self, connection_id: str) -> Connection | None: ...


class ActionBookings(Protocol):
    def find(self, connection_id: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        """The connection's booking by invitee uuid (``read.bookings.BookingLookup``'s attributes)."""
        ...

    def read(self, connection_id: str, event_uuid: str, invitee_uuid: str) -> Mapping[str, Any] | None:
        """The same, read consistently by its full key (just after storing it)."""
        ...


def _invitee_envelope(event: ScheduledEvent | None, invitee: Invitee) -> InviteeEnvelope | None:
    if event is not None:
        return state_envelope(event, invitee)
    stamp = stamp_of(invitee)
    if stamp is None:
        return None
    payload = InviteePayload.model_validate(
        {**invitee.model_dump(mode="json", exclude_unset=True), "updated_at": stamp}
    )
    if invitee.status == "canceled":
        return InviteeEnvelope(event=WebhookEvent.INVITEE_CANCELED, created_at=stamp, payload=payload)
    return InviteeEnvelope(event=WebhookEvent.INVITEE_CREATED, created_at=stamp, payload=payload)


@dataclass(frozen=True, slots=True)
class Actions:
    connections: ConnectionLookup
    calendly: CalendlyAccess
    repository: BookingsRepository
    bookings: ActionBookings
    idempotency: IdempotencyStore
    archive_ttl: timedelta
    erased_in: ErasedIn | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    api_base: str = "https://api.calendly.com"

    # -- the four actions

    def book(self, connection_id: str, request: BookRequest, key: str | None) -> Answer:
        connection = self._connection(connection_id)

        def run(commit: Commit) -> Answer:
            with self.calendly.client_for(connection) as api:
                invitee = self._call("book", lambda: api.create_invitee(request.calendly_body(self.api_base)))
                ref = InviteeRef.from_uri(invitee.uri)
                if ref is None:
                    raise ActionRefused(503, "calendly_unavailable", "Calendly answered an unexpected invitee URI.")
                answer = Answer(201, (ref.event_uuid, ref.invitee_uuid))
                commit(answer)
                event = self._quietly(lambda: api.get_scheduled_event(invitee.event))
                self._store(connection_id, _invitee_envelope(event, invitee))
            return answer

        return self._once(connection_id, key, fingerprint("book", "", request.model_dump(mode="json")), run)

    def cancel(self, connection_id: str, invitee_uuid: str, request: CancelRequest, key: str | None) -> Answer:
        connection, found = self._booking(connection_id, invitee_uuid)
        event_uuid = str(found["event_uuid"])

        def run(commit: Commit) -> Answer:
            if found.get("status") == "canceled":
                raise ActionRefused(409, "already_canceled", f"booking {invitee_uuid!r} is already canceled")
            with self.calendly.client_for(connection) as api:
                self._call("cancel", lambda: api.cancel_scheduled_event(event_uuid, request.reason))
                answer = Answer(200, (event_uuid, invitee_uuid))
                commit(answer)
                self._refresh(connection_id, api, event_uuid, invitee_uuid)
            return answer

        print_ = fingerprint("cancel", invitee_uuid, request.model_dump(mode="json"))
        return self._once(connection_id, key, print_, run)

    def mark_no_show(self, connection_id: str, invitee_uuid: str, key: str | None) -> Answer:
        connection, found = self._booking(connection_id, invitee_uuid)
        event_uuid = str(found["event_uuid"])
        invitee_uri = str(found.get("uri") or f"{self.api_base}/scheduled_events/{event_uuid}/invitees/{invitee_uuid}")

        def run(commit: Commit) -> Answer:
            with self.calendly.client_for(connection) as api:
                mark = self._call("no-show", lambda: api.create_invitee_no_show(invitee_uri))
                answer = Answer(200, (event_uuid, invitee_uuid))
                commit(answer)
                marked_at = mark.created_at or self.clock()
                self._store(
                    connection_id,
                    NoShowEnvelope(event=WebhookEvent.INVITEE_NO_SHOW_CREATED, created_at=marked_at, payload=mark),
                )
            return answer

        return self._once(connection_id, key, fingerprint("no-show", invitee_uuid, {}), run)

    def clear_no_show(self, connection_id: str, invitee_uuid: str, key: str | None) -> Answer:
        connection, found = self._booking(connection_id, invitee_uuid)
        event_uuid = str(found["event_uuid"])
        invitee_uri = str(found.get("uri") or f"{self.api_base}/scheduled_events/{event_uuid}/invitees/{invitee_uuid}")
        stored = found.get("no_show") if isinstance(found.get("no_show"), Mapping) else None

        def run(commit: Commit) -> Answer:
            with self.calendly.client_for(connection) as api:
                mark_uri = stored.get("uri") if stored else None
                if not mark_uri:  # its webhook may not have come yet: ask Calendly
                    invitee = self._call("clear-no-show", lambda: api.get_invitee(event_uuid, invitee_uuid))
                    mark_uri = invitee.no_show.uri if invitee.no_show else None
                if not mark_uri:
                    raise ActionRefused(409, "not_marked", f"booking {invitee_uuid!r} has no no-show mark")
                uri = str(mark_uri)
                self._call("clear-no-show", lambda: api.delete_invitee_no_show(uri))
                answer = Answer(200, (event_uuid, invitee_uuid))
                commit(answer)
                # Dated now: newer than the mark, whatever the invitee's own updated_at says.
                mark = InviteeNoShow.model_validate({"uri": uri, "invitee": invitee_uri})
                self._store(
                    connection_id,
                    NoShowEnvelope(event=WebhookEvent.INVITEE_NO_SHOW_DELETED, created_at=self.clock(), payload=mark),
                )
            return answer

        return self._once(connection_id, key, fingerprint("clear-no-show", invitee_uuid, {}), run)

    def view(self, connection_id: str, booking: tuple[str, str]) -> dict[str, Any]:
        """The booking as stored now (only its ids if its storing failed: the webhook brings the rest)."""
        event_uuid, invitee_uuid = booking
        found = self.bookings.read(connection_id, event_uuid, invitee_uuid)
        attributes = found if found is not None else {"event_uuid": event_uuid, "invitee_uuid": invitee_uuid}
        return BookingView.from_stored(attributes).model_dump(mode="json")

    # -- helpers

    def _connection(self, connection_id: str) -> Connection:
        connection = self.connections.get(connection_id)
        if connection is None or connection.status == "removed":
            raise ActionRefused(404, "not_found", f"no connection {connection_id!r}")
        if connection.status != "active":
            raise ActionRefused(
                409, "reauthorization_required", f"connection {connection_id!r} must be reconnected before acting"
            )
        return connection

    def _booking(self, connection_id: str, invitee_uuid: str) -> tuple[Connection, Mapping[str, Any]]:
        connection = self._connection(connection_id)
        found = self.bookings.find(connection_id, invitee_uuid)
        if found is None or not found.get("event_uuid"):
            raise ActionRefused(404, "not_found", f"no booking {invitee_uuid!r} under connection {connection_id!r}")
        return connection, found

    def _once(self, connection_id: str, key: str | None, print_: str, run: Callable[[Commit], Answer]) -> Answer:
        return once(self.idempotency, connection_id, key, print_, run, now=int(self.clock().timestamp()))

    @staticmethod
    def _call[T](action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except CalendlyError as exc:
            raise refusal(exc, action=action) from None

    @staticmethod
    def _quietly[T](call: Callable[[], T]) -> T | None:
        """A read after Calendly acted: its failure leaves the result to the webhook."""
        try:
            return call()
        except CalendlyError:
            return None

    def _refresh(self, connection_id: str, api: SchedulingApi, event_uuid: str, invitee_uuid: str) -> None:
        invitee = self._quietly(lambda: api.get_invitee(event_uuid, invitee_uuid))
        if invitee is not None:
            event = self._quietly(lambda: api.get_scheduled_event(event_uuid))
            self._store(connection_id, _invitee_envelope(event, invitee))

    def _store(self, connection_id: str, envelope: Envelope | None) -> None:
        if envelope is None:
            return
        now = self.clock()
        apply_delivery(
            delivery(connection_id, envelope, now),
            self.repository,
            now=now,
            archive_ttl=self.archive_ttl,
            erased_in=self.erased_in,
        )
