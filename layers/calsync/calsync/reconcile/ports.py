"""What the reconciler needs from Calendly and from storage (implemented in
``calsync.calendly.client``, ``calsync.reconcile.aws_state``, ``calsync.reconcile.aws_requests``
and ``calsync.connections.aws_registry``; ``compose`` builds a reconciler per connection)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from calsync.bookings.records import InviteeRef
from calsync.calendly.models import EventType, Invitee, RoutingForm, RoutingFormSubmission, ScheduledEvent
from calsync.connections.records import Connection
from calsync.reconcile.budget import Budget
from calsync.reconcile.requests import ReconcileRequest

if TYPE_CHECKING:
    from calsync.reconcile.run import Reconciler


@dataclass(frozen=True, slots=True)
class StoredInvitee:
    """What the reconciler compares of a stored invitee."""

    uri: str
    status: str | None  # None: only a no-show or a link is stored, not the invitee itself
    updated_at: datetime | None
    no_show_uri: str | None
    no_show_at: datetime | None


class Lister(Protocol):
    def list_scheduled_events(
        self,
        *,
        organization: str | None = None,
        min_start_time: datetime | str | None = None,
        max_start_time: datetime | str | None = None,
        sort: str | None = None,
    ) -> Iterator[ScheduledEvent]: ...

    def list_event_invitees(self, event: str) -> Iterator[Invitee]: ...

    def list_event_types(
        self, *, organization: str | None = None, user: str | None = None, active: bool | None = None
    ) -> Iterator[EventType]: ...

    def list_routing_forms(self, *, organization: str, sort: str | None = None) -> Iterator[RoutingForm]: ...

    def list_routing_form_submissions(
        self, form: str, *, sort: str | None = None
    ) -> Iterator[RoutingFormSubmission]: ...


class StoredBookings(Protocol):
    def invitees_of(self, event_uri: str) -> Mapping[str, StoredInvitee]:
        """The stored invitees of a scheduled event, by invitee URI (one read)."""
        ...

    def has_submission(self, uuid: str, submitter: InviteeRef | None) -> bool:
        """Whether a routing-form submission is stored, on its own or under its submitter's
        event (it moves there once someone books from it)."""
        ...


class ReconcileState(Protocol):
    """The cursor on the connection and the reports (``Report.as_dict`` values)."""

    def cursor(self, connection_id: str) -> Mapping[str, Any] | None: ...
    def save_cursor(self, connection_id: str, cursor: Mapping[str, Any] | None) -> None: ...
    def put_report(self, report: Mapping[str, Any]) -> None: ...


class ConnectionRecords(Protocol):
    """The connections to reconcile (the registry)."""

    def all(self) -> Iterator[Connection]: ...
    def get(self, connection_id: str) -> Connection | None: ...


class RequestQueue(Protocol):
    """Where a requested reconcile's continuation is sent (the requests queue)."""

    def send(self, request: ReconcileRequest) -> None: ...


class ReconcilerFor(Protocol):
    """A reconciler on the connection's token spending ``budget``, and its Calendly client
    (a context manager: closed when the run ends)."""

    def __call__(self, connection: Connection, budget: Budget) -> tuple[Reconciler, AbstractContextManager[object]]: ...
