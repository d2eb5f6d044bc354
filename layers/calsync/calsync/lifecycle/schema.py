"""The shape of each lifecycle event's ``detail``: one pydantic model per detail-type, from
which the committed JSON Schemas (``schemas/lifecycle/<detail-type>.v<version>.json``) are
generated (``make schemas``). Tests check every emitted event against those files."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from calsync.lifecycle.events import SCHEMA_VERSION, DetailType


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Host(_Strict):
    user: str | None
    name: str | None
    email: str | None


class Booking(_Strict):
    invitee_uri: str | None
    event_uri: str | None
    status: str | None
    name: str | None
    email: str | None
    timezone: str | None
    event_name: str | None
    start_time: str | None
    end_time: str | None
    hosts: list[Host]
    location: dict[str, Any] | None
    questions_and_answers: list[dict[str, Any]]
    tracking: dict[str, Any] | None
    cancellation: dict[str, Any] | None
    no_show: dict[str, Any] | None
    rescheduled_from: str | None
    rescheduled_to: str | None
    routing_form_submission: str | None
    version: str | None = Field(
        description="Sorts a booking's states in the order they happened: keep the event with the greatest."
    )
    no_show_version: str | None = Field(
        description="Sorts a booking's no-show marks and removals in the order they happened (null: never marked)."
    )


class Times(_Strict):
    invitee_uri: str | None
    start_time: str | None
    end_time: str | None


class CanceledBy(_Strict):
    type: str | None
    name: str | None
    reason: str | None


class Submission(_Strict):
    uri: str
    routing_form: str | None
    submitter: str | None
    submitter_type: str | None
    questions_and_answers: list[dict[str, Any]] | None
    tracking: dict[str, Any] | None
    result: dict[str, Any] | None
    created_at: str | None


class _Detail(_Strict):
    schema_version: Literal["2"]  # 2: booking.version and booking.no_show_version (v1 schemas kept beside)
    event_id: str
    connection_id: str | None


class BookingDetail(_Detail):
    """Booking Scheduled, Invitee No-Show Marked, Invitee No-Show Cleared."""

    booking: Booking


class RescheduledDetail(_Detail):
    booking: Booking
    old: Times
    new: Times
    cancellation: dict[str, Any] | None


class CanceledDetail(_Detail):
    booking: Booking
    canceled_by: CanceledBy


class RoutingFormDetail(_Detail):
    submission: Submission
    booking: Booking | None


class ReminderDetail(_Detail):
    """Booking Starting Soon (``lead_seconds`` before the start) and Booking Ended (at the end; at
    once for a booking first stored after a recent end, with the id its reminder would have had)."""

    booking: Booking
    lead_seconds: int | None


class ErasedDetail(_Detail):
    """Invitee Erased: no personal data, only the keyed hash of the address (the same address
    erased again gives the same hash) and when it was erased; ``connection_id`` is the one
    connection the person was erased from (a tenant's erasure), null when erased everywhere."""

    address_hash: str
    erased_at: str


class EventTypeView(_Strict):
    uri: str
    name: str | None
    duration: int | None
    kind: str | None
    active: bool | None
    scheduling_url: str | None
    owner: str | None
    deleted: bool | None
    updated_at: str | None


class EventTypeChangedDetail(_Detail):
    """Event Type Changed: an event type of the connection was created, updated (``changed``
    names the fields) or deleted; ``previous_name`` is its name before the change."""

    change: Literal["created", "updated", "deleted"]
    changed: list[str]
    event_type: EventTypeView
    previous_name: str | None


class Recap(_Strict):
    uri: str
    event_uri: str | None
    status: str | None
    created_at: str | None
    updated_at: str | None
    text_included: bool = Field(
        description="Whether the text fields carry the recap (the stack's RecapTextInEvents); null text otherwise."
    )
    summary_md: str | None
    action_items_md: str | None
    discussion_md: str | None


class MeetingEvent(_Strict):
    uri: str | None
    name: str | None
    event_type: str | None
    status: str | None
    start_time: str | None
    end_time: str | None


class RecapReadyDetail(_Detail):
    """Meeting Recap Ready: a Notetaker recap of a meeting is available (the case file when a
    meeting completes); ``event`` is its scheduled event as stored (null for an external meeting)."""

    recap: Recap
    event: MeetingEvent | None


DETAIL_MODELS: dict[DetailType, type[_Detail]] = {
    DetailType.BOOKING_SCHEDULED: BookingDetail,
    DetailType.BOOKING_RESCHEDULED: RescheduledDetail,
    DetailType.BOOKING_CANCELED: CanceledDetail,
    DetailType.NO_SHOW_MARKED: BookingDetail,
    DetailType.NO_SHOW_CLEARED: BookingDetail,
    DetailType.ROUTING_FORM_SUBMITTED: RoutingFormDetail,
    DetailType.BOOKING_STARTING_SOON: ReminderDetail,
    DetailType.BOOKING_ENDED: ReminderDetail,
    DetailType.INVITEE_ERASED: ErasedDetail,
    DetailType.EVENT_TYPE_CHANGED: EventTypeChangedDetail,
    DetailType.MEETING_RECAP_READY: RecapReadyDetail,
}


def json_schema(detail_type: DetailType) -> dict[str, Any]:
    """The JSON Schema of a detail-type's ``detail`` (what ``make schemas`` writes)."""
    schema = DETAIL_MODELS[detail_type].model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"calsync/lifecycle/{detail_type.slug}.v{SCHEMA_VERSION}.json",
        "title": f"calsync {detail_type.value} (detail, v{SCHEMA_VERSION})",
        **{k: v for k, v in schema.items() if k != "title"},
    }
