"""One lifecycle event → the analytics lake's records: what the metrics need, no personal data.

Kept: Calendly's event and invitee uuids, event type, host (user URI), status, times, created
time, no-show, how it was canceled (by host or invitee, rescheduled or not), UTM fields, routing
form and submission ids, connection id, versions, and the lifecycle event's kind, id and time.
Never kept: email, name, phone, timezone, answers, notes, location, cancellation reason or any
other free text. An erased person therefore leaves nothing to erase here.

Pure: ``lake_records(event, at)`` reads only the event's ``detail`` (schema v2) and the time
the event was published (EventBridge's ``time``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from calsync import timefmt
from calsync.lifecycle.events import DetailType, LifecycleEvent

# Reminders (Booking Starting Soon, Booking Ended) change nothing about a booking: they repeat its
# state and would treble the lake. The lake keeps the events that change a booking, a submission
# and erasures (the EventBridge rule that feeds it matches these detail-types).
# Not in the lake: reminders; a recap (its text and attendees are personal data); an event
# type's change (configuration, not a booking: the lake's rows are bookings).
LAKE_KINDS = frozenset(DetailType) - {
    DetailType.BOOKING_STARTING_SOON,
    DetailType.BOOKING_ENDED,
    DetailType.MEETING_RECAP_READY,
    DetailType.EVENT_TYPE_CHANGED,
}
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_content", "utm_term")
CANCELERS = frozenset({"host", "invitee"})


class LakeRecord(BaseModel):
    """One row of the lake (the Parquet/Glue columns, in this order; ``dt`` is the partition)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    event_id: str
    occurred_at: datetime
    connection_id: str | None = None
    event_uuid: str | None = None
    invitee_uuid: str | None = None
    event_type: str | None = None
    host_user: str | None = None
    status: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    created_at: datetime | None = None
    no_show: bool | None = None
    canceled_by: str | None = None
    rescheduled: bool | None = None
    rescheduled_from: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_content: str | None = None
    utm_term: str | None = None
    routing_form_id: str | None = None
    submission_uuid: str | None = None
    version: str | None = None
    no_show_version: str | None = None

    @property
    def dt(self) -> date:
        """The partition: the UTC date the lifecycle event happened."""
        return self.occurred_at.astimezone(UTC).date()

    def as_row(self) -> dict[str, Any]:
        """The record as one JSON object for Firehose's Parquet conversion: every column, times
        in UTC as ``YYYY-MM-DD HH:MM:SS.ffffff`` (Hive's timestamp format, no zone)."""
        return {
            name: value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value
            for name, value in ((name, getattr(self, name)) for name in type(self).model_fields)
        }


def uuid_of(uri: object) -> str | None:
    """``…/scheduled_events/E1/invitees/I1`` → ``I1`` (the last path segment), else None."""
    if not isinstance(uri, str) or not uri:
        return None
    return uri.rstrip("/").rsplit("/", 1)[-1] or None


def _event_uuid_of_invitee(uri: object) -> str | None:
    """``…/scheduled_events/E1/invitees/I1`` → ``E1``."""
    if not isinstance(uri, str) or "/invitees/" not in uri:
        return None
    return uuid_of(uri.rsplit("/invitees/", 1)[0])


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _booking_fields(booking: Mapping[str, Any]) -> dict[str, Any]:
    """The kept facts of a booking snapshot (``detail.booking``)."""
    hosts = booking.get("hosts") or []
    first_host = _map(hosts[0]) if isinstance(hosts, list) and hosts else {}
    tracking = _map(booking.get("tracking"))
    cancellation = _map(booking.get("cancellation"))
    canceler = cancellation.get("canceler_type")
    status = _text(booking.get("status"))
    return {
        "event_uuid": uuid_of(booking.get("event_uri")),
        "invitee_uuid": uuid_of(booking.get("invitee_uri")),
        # schema v2 carries the event type's name; its URI once the detail carries ``event_type``
        "event_type": _text(booking.get("event_type")) or _text(booking.get("event_name")),
        "host_user": _text(first_host.get("user")),
        "status": status,
        "start_time": timefmt.parse_optional(booking.get("start_time")),
        "end_time": timefmt.parse_optional(booking.get("end_time")),
        "created_at": timefmt.parse_optional(booking.get("created_at")),
        "no_show": bool(booking.get("no_show")),
        "canceled_by": canceler if status == "canceled" and canceler in CANCELERS else None,
        "rescheduled": bool(booking.get("rescheduled_to")) if status == "canceled" else False,
        "rescheduled_from": uuid_of(booking.get("rescheduled_from")),
        **{name: _text(tracking.get(name)) for name in UTM_FIELDS},
        "submission_uuid": uuid_of(booking.get("routing_form_submission")),
        "version": _text(booking.get("version")),
        "no_show_version": _text(booking.get("no_show_version")),
    }


def lake_records(event: LifecycleEvent, at: datetime) -> list[LakeRecord]:
    """The records one lifecycle event lands as (``at``: when it was published).

    A reschedule is two records: the new booking, and the old one canceled to reschedule (the
    old half publishes no ``Booking Canceled``), at the new booking's version so it sorts after
    the old booking's earlier states. A booking first seen by ``Booking Scheduled`` or
    ``Booking Rescheduled`` without a stored creation time takes the event's time as created.
    Reminders land as nothing (``LAKE_KINDS``).
    """
    detail, kind = event.detail, event.detail_type
    if kind not in LAKE_KINDS:
        return []
    base: dict[str, Any] = {
        "kind": kind.value,
        "event_id": event.event_id,
        "occurred_at": at.astimezone(UTC),
        "connection_id": _text(detail.get("connection_id")),
    }
    if kind is DetailType.INVITEE_ERASED:
        return [LakeRecord(**base)]
    if kind is DetailType.ROUTING_FORM_SUBMITTED:
        return [_submission(base, _map(detail.get("submission")), detail.get("booking"))]
    fields = _booking_fields(_map(detail.get("booking")))
    if fields["created_at"] is None and kind in (DetailType.BOOKING_SCHEDULED, DetailType.BOOKING_RESCHEDULED):
        fields["created_at"] = base["occurred_at"]
    if kind is DetailType.BOOKING_CANCELED:
        canceler = _map(detail.get("canceled_by")).get("type")
        fields["canceled_by"] = canceler if canceler in CANCELERS else fields["canceled_by"]
    records = [LakeRecord(**base, **fields)]
    if kind is DetailType.BOOKING_RESCHEDULED:
        records.append(_old_half(base, fields, detail))
    return records


def from_eventbridge(envelope: Mapping[str, Any]) -> list[LakeRecord]:
    """The records of one lifecycle event as EventBridge delivers it (``detail-type``, ``time``,
    ``detail``); an event of another kind, or without a time, lands as nothing."""
    try:
        kind = DetailType(str(envelope.get("detail-type")))
    except ValueError:
        return []
    at, detail = timefmt.parse_optional(envelope.get("time")), _map(envelope.get("detail"))
    event_id = detail.get("event_id")
    if at is None or not isinstance(event_id, str):
        return []
    return lake_records(LifecycleEvent(kind, event_id, dict(detail)), at)


def _old_half(base: dict[str, Any], new: dict[str, Any], detail: Mapping[str, Any]) -> LakeRecord:
    old = _map(detail.get("old"))
    canceler = _map(detail.get("cancellation")).get("canceler_type")
    return LakeRecord(
        **base,
        event_uuid=_event_uuid_of_invitee(old.get("invitee_uri")),
        invitee_uuid=uuid_of(old.get("invitee_uri")),
        event_type=new["event_type"],
        host_user=new["host_user"],
        status="canceled",
        start_time=timefmt.parse_optional(old.get("start_time")),
        end_time=timefmt.parse_optional(old.get("end_time")),
        no_show=False,
        canceled_by=canceler if canceler in CANCELERS else None,
        rescheduled=True,
        version=new["version"],
    )


def _submission(base: dict[str, Any], submission: Mapping[str, Any], booking: object) -> LakeRecord:
    """A routing-form submission; its booking's uuids when it led to one."""
    tracking = _map(submission.get("tracking"))
    led_to = _booking_fields(booking) if isinstance(booking, Mapping) else {}
    utm: dict[str, Any] = {name: _text(tracking.get(name)) for name in UTM_FIELDS}
    return LakeRecord(
        **base,
        routing_form_id=uuid_of(submission.get("routing_form")),
        submission_uuid=uuid_of(submission.get("uri")),
        event_uuid=led_to.get("event_uuid"),
        invitee_uuid=led_to.get("invitee_uuid"),
        event_type=led_to.get("event_type"),
        created_at=timefmt.parse_optional(submission.get("created_at")),
        **utm,
    )
