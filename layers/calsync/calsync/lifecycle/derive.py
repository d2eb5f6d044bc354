"""Which lifecycle events one stored change means: old image vs new image of a table item.

Pure: the images are the stored attributes as plain JSON values (what the bookings table's
stream carries), and ``Images`` reads the related items (the other half of a reschedule, the
scheduled event's hosts and location). A write that changes nothing yields nothing, whatever
the stream says, so stale, duplicate and replayed deliveries never publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from calsync.lifecycle.events import SCHEMA_VERSION, DetailType, LifecycleEvent, event_id

Image = Mapping[str, Any]


class Images(Protocol):
    def invitee(self, uri: str) -> Image | None:
        """The stored invitee with this URI, if any."""
        ...

    def scheduled_event(self, uri: str) -> Image | None:
        """The stored scheduled event with this URI, if any."""
        ...

    def event_type(self, tenant: str, uri: str) -> Image | None:
        """The connection's stored event type with this URI, if any."""
        ...


def derive(old: Image | None, new: Image | None, images: Images) -> list[LifecycleEvent]:
    """A deleted item (an erasure removing a person's data) means nothing: no cancellation,
    no cleared no-show."""
    if new is None:
        return []
    before, after = old or {}, new
    match after.get("type") or before.get("type"):
        case "invitee":
            return _invitee_events(before, after, images)
        case "routing_form_submission":
            return _submission_events(before, after, images)
        case "tombstone":
            return _erased(before, after)
        case "event_type":
            return event_type_events(before, after)
        case "meeting_recap":
            return recap_events(before, after, images)
        case _:
            return []


def _erased(before: Image, after: Image) -> list[LifecycleEvent]:
    """One per erasure (a tombstone written, or its time moved by a later erasure)."""
    digest, at = after.get("address_hash"), after.get("erased_at")
    if not isinstance(digest, str) or not isinstance(at, str) or before.get("erased_at") == at:
        return []
    scope = after.get("scope")
    if isinstance(scope, str) and scope != "global":  # erased from one connection's data only
        return [_event(DetailType.INVITEE_ERASED, (digest, at, scope), scope, address_hash=digest, erased_at=at)]
    return [_event(DetailType.INVITEE_ERASED, (digest, at), None, address_hash=digest, erased_at=at)]


EVENT_TYPE_FIELDS = ("uri", "name", "duration", "kind", "active", "scheduling_url", "owner", "deleted", "updated_at")
RECAP_TEXT = ("summary_md", "action_items_md", "discussion_md")


def event_type_events(before: Image, after: Image) -> list[LifecycleEvent]:
    """Event Type Changed: once per stored change of what users see of an event type (a newer
    version that changes none of those fields, or a reconcile finding it unchanged, says nothing)."""
    now = {name: after.get(name) for name in EVENT_TYPE_FIELDS}
    was = {name: before.get(name) for name in EVENT_TYPE_FIELDS}
    if now == was or not isinstance(now["uri"], str):
        return []
    change = "created" if not before.get("type") else "deleted" if now["deleted"] and not was["deleted"] else "updated"
    changed = sorted(name for name in EVENT_TYPE_FIELDS if before.get("type") and now[name] != was[name])
    return [
        _event(
            DetailType.EVENT_TYPE_CHANGED,
            (now["uri"], after.get("v")),
            after.get("tenant"),
            change=change,
            changed=changed,
            event_type=now,
            previous_name=was["name"] if before.get("type") else None,
        )
    ]


def recap_events(before: Image, after: Image, images: Images) -> list[LifecycleEvent]:
    """Meeting Recap Ready: once per recap, when it is first stored available (Calendly's
    ``available``, or no status) and not deleted; with its scheduled event as stored. It carries
    the recap's text; the publisher removes it unless the stack allows it (``without_recap_text``)."""

    def ready(image: Image) -> bool:
        return bool(image.get("type")) and not image.get("deleted") and image.get("status") in (None, "available")

    uri = after.get("uri")
    if not ready(after) or ready(before) or not isinstance(uri, str):
        return []
    event_uri = after.get("event_uri")
    event = images.scheduled_event(event_uri) if isinstance(event_uri, str) else None
    recap = {
        "uri": uri,
        "event_uri": event_uri,
        "status": after.get("status"),
        "created_at": after.get("created_at"),
        "updated_at": after.get("updated_at"),
        "text_included": True,
        **{name: after.get(name) for name in RECAP_TEXT},
    }
    meeting = (
        {name: event.get(name) for name in ("uri", "name", "event_type", "status", "start_time", "end_time")}
        if event
        else None
    )
    return [_event(DetailType.MEETING_RECAP_READY, (uri,), after.get("tenant"), recap=recap, event=meeting)]


def without_recap_text(event: LifecycleEvent) -> LifecycleEvent:
    """The event as published when recap text is not allowed in events (the default: it is
    personal data): a Meeting Recap Ready's text fields null, ``text_included`` false."""
    if event.detail_type is not DetailType.MEETING_RECAP_READY:
        return event
    recap = {**event.detail.get("recap", {}), **dict.fromkeys(RECAP_TEXT), "text_included": False}
    return LifecycleEvent(event.detail_type, event.event_id, {**event.detail, "recap": recap})


def booking(invitee: Image, event: Image | None, event_type_name: str | None = None) -> dict[str, Any]:
    """The booking as stored: the invitee with its scheduled event's name, times, hosts and
    location; ``event_name`` its event type's current name when that is stored."""
    event = event or {}
    hosts = [
        {"user": m.get("user"), "name": m.get("user_name"), "email": m.get("user_email")}
        for m in event.get("memberships") or []
        if isinstance(m, Mapping)
    ]
    return {
        "invitee_uri": invitee.get("uri"),
        "event_uri": invitee.get("event_uri") or event.get("uri"),
        "status": invitee.get("status"),
        "name": invitee.get("name"),
        "email": invitee.get("email"),
        "timezone": invitee.get("timezone"),
        "event_name": event_type_name or invitee.get("event_name") or event.get("name"),
        "start_time": invitee.get("start_time") or event.get("start_time"),
        "end_time": invitee.get("end_time") or event.get("end_time"),
        "hosts": hosts,
        "location": event.get("location"),
        "questions_and_answers": invitee.get("questions_and_answers") or [],
        "tracking": invitee.get("tracking"),
        "cancellation": invitee.get("cancellation"),
        "no_show": invitee.get("no_show"),
        "rescheduled_from": invitee.get("rescheduled_from"),
        "rescheduled_to": invitee.get("rescheduled_to"),
        "routing_form_submission": invitee.get("routing_form_submission"),
        # Orders a booking's events (EventBridge delivers in no set order): the greatest version
        # is its latest status, the greatest no-show version its latest mark.
        "version": invitee.get("v"),
        "no_show_version": invitee.get("nsv"),
    }


def _event(detail_type: DetailType, key: tuple[object, ...], tenant: Any, **detail: Any) -> LifecycleEvent:
    eid = event_id(detail_type, *key)
    body = {"schema_version": SCHEMA_VERSION, "event_id": eid, "connection_id": tenant, **detail}
    return LifecycleEvent(detail_type, eid, body)


def _booking_of(invitee: Image, images: Images) -> dict[str, Any]:
    event_uri = invitee.get("event_uri")
    event = images.scheduled_event(event_uri) if isinstance(event_uri, str) else None
    return booking(invitee, event, current_name(invitee, event, images))


def current_name(invitee: Image, event: Image | None, images: Images) -> str | None:
    """The booking's event type's current name (a rename shows on bookings made before), when
    the event type is stored and not deleted."""
    type_uri, tenant = invitee.get("event_type") or (event or {}).get("event_type"), invitee.get("tenant")
    if not isinstance(type_uri, str) or not isinstance(tenant, str):
        return None
    found = images.event_type(tenant, type_uri)
    name = (found or {}).get("name")
    return name if isinstance(name, str) and not (found or {}).get("deleted") else None


def _is_reschedule_half(image: Image) -> bool:
    return bool(image.get("rescheduled") or image.get("rescheduled_to") or image.get("rescheduled_from"))


def _complete_half(image: Image, link: str) -> bool:
    """One half of a reschedule is known once it has its state, its start and its link; the old
    half (``rescheduled_to``) once its cancellation is stored, so the reschedule carries it (a
    late copy of its creation, still active, does not complete it)."""
    status = image.get("status")
    return bool(status and image.get("start_time") and image.get(link)) and (
        link != "rescheduled_to" or status == "canceled"
    )


def rescheduled_away(image: Image | None) -> bool:
    """Known to be replaced by a new booking: canceled to reschedule, or named as its ``old_invitee``."""
    return bool(image and (image.get("rescheduled") or image.get("rescheduled_to")))


def announces(old: Image | None, new: Image | None) -> bool:
    """Whether this change may mean ``Booking Scheduled``: a booking stored active for the
    first time, not the new half of a reschedule (the reschedule announces it), not known to be
    rescheduled away. The publisher reads such a booking as it is now (``Images.invitee``) too."""
    return bool(
        new
        and new.get("status") == "active"
        and (old or {}).get("status") is None
        and not new.get("rescheduled_from")
        and not rescheduled_away(new)
    )


def _times(image: Image) -> dict[str, Any]:
    return {"invitee_uri": image.get("uri"), "start_time": image.get("start_time"), "end_time": image.get("end_time")}


def _rescheduled(before: Image, after: Image, images: Images) -> list[LifecycleEvent]:
    """Exactly one per reschedule: from whichever half completes the pair, in either order.
    A booking can be both halves (rescheduled from one and then to another): each side is
    looked at on its own."""
    events = []
    for link, other_link in (("rescheduled_to", "rescheduled_from"), ("rescheduled_from", "rescheduled_to")):
        if not _complete_half(after, link) or _complete_half(before, link):
            continue
        other = images.invitee(str(after[link]))
        if other is None or not _complete_half(other, other_link):
            continue
        old, new = (after, other) if link == "rescheduled_to" else (other, after)
        events.append(
            _event(
                DetailType.BOOKING_RESCHEDULED,
                (old.get("uri"), new.get("uri")),
                new.get("tenant") or old.get("tenant"),
                booking=_booking_of(new, images),
                old=_times(old),
                new=_times(new),
                cancellation=old.get("cancellation"),
            )
        )
    return events


def _invitee_events(before: Image, after: Image, images: Images) -> list[LifecycleEvent]:
    uri, tenant = after.get("uri") or before.get("uri"), after.get("tenant") or before.get("tenant")
    was, now = before.get("status"), after.get("status")
    events: list[LifecycleEvent] = []
    if announces(before, after) and not rescheduled_away(images.invitee(str(uri))):
        # Never for a booking already replaced, whatever order its deliveries came in or the
        # stream is read in: consumers would keep it as a ghost (EventBridge keeps no order).
        events.append(_event(DetailType.BOOKING_SCHEDULED, (uri,), tenant, booking=_booking_of(after, images)))
    if now == "canceled" and was != "canceled" and not rescheduled_away(after):
        found = after.get("cancellation")
        cancellation: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        events.append(
            _event(
                DetailType.BOOKING_CANCELED,
                (uri,),
                tenant,
                booking=_booking_of(after, images),
                canceled_by={
                    "type": cancellation.get("canceler_type"),
                    "name": cancellation.get("canceled_by"),
                    "reason": cancellation.get("reason"),
                },
            )
        )
    if _is_reschedule_half(after):
        events.extend(_rescheduled(before, after, images))
    if bool(before.get("no_show")) != bool(after.get("no_show")):
        kind = DetailType.NO_SHOW_MARKED if after.get("no_show") else DetailType.NO_SHOW_CLEARED
        events.append(_event(kind, (uri, after.get("nsv")), tenant, booking=_booking_of(after, images)))
    return events


def _submission_events(before: Image, after: Image, images: Images) -> list[LifecycleEvent]:
    if before.get("uri") or not after.get("uri"):
        return []
    submitter = after.get("submitter")
    led_to = (
        images.invitee(submitter)
        if isinstance(submitter, str) and after.get("submitter_type") in (None, "Invitee")
        else None
    )
    submission = {
        name: after.get(name)
        for name in (
            "uri",
            "routing_form",
            "submitter",
            "submitter_type",
            "questions_and_answers",
            "tracking",
            "result",
            "created_at",
        )
    }
    return [
        _event(
            DetailType.ROUTING_FORM_SUBMITTED,
            (after["uri"],),
            after.get("tenant"),
            submission=submission,
            booking=_booking_of(led_to, images) if led_to is not None else None,
        )
    ]
