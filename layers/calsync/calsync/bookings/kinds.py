"""Event types, contacts and meeting recaps: the typed resources of ``event_type.*``,
``contact.*`` and ``meeting_recap.*`` deliveries (and of the reconcile's ``GET /event_types``),
as the records the repository stores, version-aware.

Versions follow the resource's own time: an event type and a meeting recap their
``updated_at``, a contact its own ``updated_at`` (never the webhook's ``created_at``, which
is when Calendly sent it); a deletion its ``deleted_at`` with a rank that wins a tie. A deleted
contact or recap keeps no personal data: only its URI, its deletion time and its links.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from calsync.bookings.records import ResourceSnapshot, last_segment, stored_time, version
from calsync.calendly.kinds import Contact, Deleted, KindEvent, MeetingRecap, WebhookEventType
from calsync.calendly.models import EventType
from calsync.errors import InvalidDelivery

DELETED_RANK = 1  # a deletion wins a tie with a change of the same time
KIND_EVENTS = frozenset(KindEvent)


def _uuid(uri: str) -> str:
    uuid = last_segment(uri)
    if uuid is None:
        raise InvalidDelivery("payload.uri has no identifier")
    return uuid


def event_type_state(resource: EventType, tenant: str) -> dict[str, Any]:
    """An event type as stored: what bookings and users read of it."""
    profile = resource.profile
    return {
        "uri": resource.uri,
        "tenant": tenant,
        "name": resource.name,
        "duration": resource.duration,
        "kind": resource.kind,
        "active": False if resource.deleted_at is not None else resource.active,
        "scheduling_url": resource.scheduling_url,
        "owner": profile.owner if profile else None,
        "owner_type": profile.type if profile else None,
        "slug": resource.slug,
        "pooling_type": resource.pooling_type,
        "calendly_type": resource.type,  # StandardEventType or AdhocEventType ("type" is the item's)
        "created_at": stored_time(resource.created_at),
        "updated_at": stored_time(resource.updated_at),
        "deleted": resource.deleted_at is not None,
        "deleted_at": stored_time(resource.deleted_at),
    }


def event_type_snapshot(resource: EventType, tenant: str, *, sent_at: datetime) -> ResourceSnapshot:
    """An event type (a delivery's, or an item of ``GET /event_types``) as stored."""
    state = event_type_state(resource, tenant)
    deleted = resource.deleted_at is not None
    stamp = resource.deleted_at or resource.updated_at or resource.created_at or sent_at
    return ResourceSnapshot(
        kind="event_type",
        tenant=tenant,
        uuid=_uuid(resource.uri),
        version=version(stamp, DELETED_RANK if deleted else 0, content=state),
        state=state,
    )


def _deleted_snapshot(kind: str, payload: dict[str, Any], tenant: str, sent_at: datetime) -> ResourceSnapshot:
    tombstone = Deleted.model_validate(payload)
    when = tombstone.deleted_at or sent_at
    state = {"uri": tombstone.uri, "tenant": tenant, "deleted": True, "deleted_at": stored_time(when)}
    if kind == "event_type":  # an event type is no personal data: its last state stays readable
        state = {"uri": tombstone.uri, "tenant": tenant, "active": False, **state}
    return ResourceSnapshot(
        kind=kind,
        tenant=tenant,
        uuid=_uuid(tombstone.uri),
        version=version(when, DELETED_RANK, content=state),
        state=state,
    )


def contact_snapshot(contact: Contact, tenant: str, *, sent_at: datetime) -> ResourceSnapshot:
    state = {
        "uri": contact.uri,
        "tenant": tenant,
        "name": contact.name,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "emails": contact.addresses(),
        "timezone": contact.timezone,
        "company": contact.company,
        "job_title": contact.job_title,
        "owner": contact.owner,
        "created_at": stored_time(contact.created_at),
        "updated_at": stored_time(contact.updated_at),
        "deleted": False,
    }
    stamp = contact.updated_at or contact.created_at or sent_at
    return ResourceSnapshot("contact", tenant, _uuid(contact.uri), version(stamp, content=state), state)


def recap_snapshot(recap: MeetingRecap, tenant: str, *, sent_at: datetime) -> ResourceSnapshot:
    event_uuid = last_segment(recap.event) if recap.event else None
    attendees = [a.model_dump(mode="json") for a in recap.attendees]
    emails = sorted({a.email.strip().lower() for a in recap.attendees if a.email})
    state = {
        "uri": recap.uri,
        "tenant": tenant,
        "event_uri": recap.event,
        "event_uuid": event_uuid,
        "status": recap.status,
        "summary_md": recap.summary_md,
        "action_items_md": recap.action_items_md,
        "discussion_md": recap.discussion_md,
        "attendees": attendees,
        "attendee_emails": emails,
        "start_time": stored_time(recap.start_time),
        "end_time": stored_time(recap.end_time),
        "created_at": stored_time(recap.created_at),
        "updated_at": stored_time(recap.updated_at),
        "deleted": False,
    }
    stamp = recap.updated_at or recap.created_at or sent_at
    return ResourceSnapshot(
        "meeting_recap", tenant, _uuid(recap.uri), version(stamp, content=state), state, event_uuid=event_uuid
    )


def resource_snapshot(event: KindEvent, payload: dict[str, Any], tenant: str, *, sent_at: datetime) -> ResourceSnapshot:
    """The record a typed delivery's payload makes; ``InvalidDelivery`` (quarantined, never
    retried) when it does not match Calendly's resource."""
    try:
        if event.deleted and not (event.kind == "event_type" and "name" in payload):
            return _deleted_snapshot(event.kind, payload, tenant, sent_at)
        match event.kind:
            case "event_type":
                resource = WebhookEventType.model_validate(payload)
                if event.deleted and resource.deleted_at is None:
                    resource = resource.model_copy(update={"deleted_at": sent_at})
                return event_type_snapshot(resource, tenant, sent_at=sent_at)
            case "contact":
                return contact_snapshot(Contact.model_validate(payload), tenant, sent_at=sent_at)
            case _:
                return recap_snapshot(MeetingRecap.model_validate(payload), tenant, sent_at=sent_at)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors(include_url=False)})
        raise InvalidDelivery(f"does not match the {event.value} model: {', '.join(fields)}") from exc
