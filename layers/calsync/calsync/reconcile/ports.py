"""What the reconciler needs from Calendly and from storage (implemented in
``calsync.calendly.client`` and ``calsync.reconcile.aws_state``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from calsync.bookings.records import InviteeRef
from calsync.calendly.models import Invitee, RoutingForm, RoutingFormSubmission, ScheduledEvent


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
