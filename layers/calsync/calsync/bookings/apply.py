"""Apply one verified delivery to booking state: the processors' single domain call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from calsync.bookings.kinds import KIND_EVENTS, resource_snapshot
from calsync.bookings.records import (
    STATUS_RANK,
    BookingsRepository,
    EventSnapshot,
    InviteeRef,
    InviteeSnapshot,
    Link,
    NoShowChange,
    SubmissionSnapshot,
    last_segment,
    stored_time,
    submitter_ref,
    version,
)
from calsync.calendly.kinds import KindEvent
from calsync.calendly.models import CalendlyValue, InviteeNoShow, WebhookEvent
from calsync.erasure.rules import ErasedIn, IsErased, refused, refused_unread
from calsync.errors import InvalidDelivery, Unstorable
from calsync.intake.delivery import Delivery
from calsync.intake.envelopes import (
    InviteeEnvelope,
    InviteePayload,
    NoShowEnvelope,
    OtherEnvelope,
    RoutingFormEnvelope,
    parse_typed,
)


@dataclass(frozen=True, slots=True)
class ApplyResult:
    event: str
    duplicate: bool = False  # the same body was seen before
    changed: bool = False  # some state moved forward
    quarantined: str | None = None  # why a verified delivery could not be modelled
    lag_seconds: float = 0.0
    erased: bool = False  # about an erased person, dated before the erasure: refused, kept nowhere

    @property
    def stale(self) -> bool:
        """Acknowledged, but older than (or equal to) what is stored: nothing changed."""
        return not self.changed and self.quarantined is None


def _stored(value: CalendlyValue | None) -> dict[str, Any] | None:
    return value.as_stored() if value is not None else None


def invitee_snapshot(payload: InviteePayload, tenant: str) -> InviteeSnapshot | None:
    """The invitee as stored: one line per stored attribute."""
    ref = InviteeRef.from_uri(payload.uri)
    if ref is None:
        return None
    event = payload.scheduled_event
    start_time = stored_time(event.start_time) if event else None
    state = {
        "uri": payload.uri,
        "tenant": tenant,
        "status": payload.status,
        "updated_at": stored_time(payload.updated_at),
        "event_uri": payload.event or (event.uri if event else None),
        "email": payload.email,
        "name": payload.name,
        "timezone": payload.timezone,
        "created_at": stored_time(payload.created_at),
        "rescheduled": bool(payload.rescheduled),
        "cancellation": payload.cancellation.model_dump(mode="json") if payload.cancellation else None,
        "questions_and_answers": [qa.model_dump(mode="json") for qa in payload.questions_and_answers],
        "tracking": _stored(payload.tracking),
        "payment": _stored(payload.payment),
    }
    return InviteeSnapshot(
        ref=ref,
        version=version(payload.updated_at, STATUS_RANK.get(payload.status, 0), content=state),
        email=payload.email,
        start_time=start_time,
        state=state,
        facts={
            "rescheduled_from": payload.old_invitee,
            "rescheduled_to": payload.new_invitee,
            "routing_form_submission": payload.routing_form_submission,
            "event_name": event.name if event else None,
            "event_type": event.event_type if event else None,  # its event type's current name is read by it
            "start_time": start_time,
            "end_time": stored_time(event.end_time) if event else None,
        },
    )


def event_snapshot(payload: InviteePayload, tenant: str) -> EventSnapshot | None:
    """The scheduled event a delivery embeds, as stored: one line per stored attribute."""
    event = payload.scheduled_event
    uuid = last_segment(event.uri) if event else None
    if event is None or uuid is None:
        return None
    stamp = event.updated_at or event.created_at or payload.updated_at
    start_time = stored_time(event.start_time)
    state = {
        "uri": event.uri,
        "tenant": tenant,
        "name": event.name,
        "status": event.status,
        "start_time": start_time,
        "end_time": stored_time(event.end_time),
        "event_type": event.event_type,
        "location": _stored(event.location),
        "memberships": [member.as_stored() for member in event.event_memberships],
    }
    return EventSnapshot(
        event_uuid=uuid,
        version=version(stamp, STATUS_RANK.get(event.status or "active", 0), content=state),
        tenant=tenant,
        start_time=start_time,
        state=state,
    )


def _apply_invitee(payload: InviteePayload, tenant: str, repo: BookingsRepository) -> bool:
    snapshot = invitee_snapshot(payload, tenant)
    if snapshot is None:
        raise InvalidDelivery("payload.uri is not an invitee URI")
    # The scheduled event first: the booking's lifecycle event (published from the invitee's
    # change) reads its hosts and location from it.
    event = event_snapshot(payload, tenant)
    changed = repo.upsert_event(event) if event is not None else False
    changed = repo.upsert_invitee(snapshot) or changed
    # Reschedules: link both halves from whichever delivery arrives first.
    new_ref = InviteeRef.from_uri(payload.new_invitee)
    if new_ref is not None:
        repo.link(Link(new_ref, "rescheduled_from", payload.uri))
    old_ref = InviteeRef.from_uri(payload.old_invitee)
    if old_ref is not None:
        repo.link(Link(old_ref, "rescheduled_to", payload.uri))
    return changed


def _apply_no_show(envelope: NoShowEnvelope, tenant: str, repo: BookingsRepository) -> bool:
    payload = envelope.payload
    deleted = envelope.event == WebhookEvent.INVITEE_NO_SHOW_DELETED
    rank = 1 if deleted else 0  # a removal wins a tie: it can only follow a mark
    mark: dict[str, Any] | None = None
    if isinstance(payload, InviteeNoShow):
        ref = InviteeRef.from_uri(payload.invitee)
        if ref is None:
            raise InvalidDelivery("payload.invitee is not an invitee URI")
        marked_at = payload.created_at or envelope.created_at
        if not deleted:
            mark = {"uri": payload.uri, "created_at": marked_at.isoformat()}
        stamp = version(marked_at, rank, content=mark, before=envelope.created_at)
        change = NoShowChange(ref, payload.invitee, stamp, mark)
        return repo.set_no_show(change)
    changed = _apply_invitee(payload, tenant, repo)
    ref = InviteeRef.from_uri(payload.uri)
    assert ref is not None  # _apply_invitee raised otherwise
    if not deleted:
        marked_at = (payload.no_show.created_at if payload.no_show else None) or envelope.created_at
        mark = {"uri": payload.no_show.uri if payload.no_show else None, "created_at": marked_at.isoformat()}
    stamp = version(payload.updated_at, rank, content=mark, before=envelope.created_at)
    change = NoShowChange(ref, payload.uri, stamp, mark)
    return repo.set_no_show(change) or changed


def _apply_submission(envelope: RoutingFormEnvelope, tenant: str, repo: BookingsRepository) -> bool:
    payload = envelope.payload
    uuid = last_segment(payload.uri)
    if uuid is None:
        raise InvalidDelivery("payload.uri has no identifier")
    submitter = submitter_ref(payload.submitter, payload.submitter_type)
    state = {
        "uri": payload.uri,
        "tenant": tenant,
        "routing_form": payload.routing_form,
        "submitter": payload.submitter,
        "submitter_type": payload.submitter_type,
        "questions_and_answers": [answer.as_stored() for answer in payload.questions_and_answers],
        "tracking": _stored(payload.tracking),
        "result": _stored(payload.result),
        "created_at": stored_time(payload.created_at),
    }
    stamp = payload.updated_at or payload.created_at or envelope.created_at
    snapshot = SubmissionSnapshot(uuid, version(stamp, content=state), submitter, state)
    changed = repo.upsert_submission(snapshot)
    if submitter is not None:
        repo.link(Link(submitter, "routing_form_submission", payload.uri))
    return changed


def apply_delivery(
    delivery: Delivery,
    repo: BookingsRepository,
    *,
    now: datetime,
    archive_ttl: timedelta,
    is_erased: IsErased | None = None,
    erased_in: ErasedIn | None = None,
) -> ApplyResult:
    """Archive the raw delivery, then merge it into booking state, version-aware. A delivery
    about a person erased after it was dated (``is_erased``, or ``erased_in`` the delivery's
    connection: a tombstone of another connection's scope does not refuse it) is refused before
    anything is kept, a malformed one naming an erased person whatever its dates. What can never be stored (a key
    or an item over the store's limits) is quarantined with its reason, never retried.

    Safe to run any number of times, in any order relative to other deliveries. Raises
    ``DependencyUnavailable`` when the store failed (the caller retries the record)."""
    expires_at = int((now + archive_ttl).timestamp())
    if erased_in is not None:
        is_erased = erased_in(delivery.connection_id)
    try:
        envelope = parse_typed(delivery.body)
    except ValidationError as exc:
        if is_erased is not None and refused_unread(delivery.body, is_erased):
            return ApplyResult(delivery.event, erased=True)
        first_seen = repo.archive(delivery, expires_at=expires_at)
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors(include_url=False)})
        reason = f"does not match the {delivery.event} model: {', '.join(fields)}"
        repo.quarantine(delivery, reason=reason)
        return ApplyResult(delivery.event, duplicate=not first_seen, quarantined=reason)
    if is_erased is not None and refused(envelope, delivery.body, is_erased):
        return ApplyResult(delivery.event, erased=True)
    try:
        first_seen = repo.archive(delivery, expires_at=expires_at)
    except Unstorable as exc:  # the body itself is too large for an item
        repo.quarantine(delivery, reason=str(exc))
        return ApplyResult(delivery.event, quarantined=str(exc))

    lag = max(0.0, (now - envelope.created_at).total_seconds())
    tenant = delivery.connection_id
    try:
        match envelope:
            case InviteeEnvelope():
                changed = _apply_invitee(envelope.payload, tenant, repo)
            case NoShowEnvelope():
                changed = _apply_no_show(envelope, tenant, repo)
            case RoutingFormEnvelope():
                changed = _apply_submission(envelope, tenant, repo)
            case OtherEnvelope() if envelope.event in KIND_EVENTS:
                kind = KindEvent(envelope.event)
                snapshot = resource_snapshot(kind, envelope.payload, tenant, sent_at=envelope.created_at)
                changed = repo.upsert_resource(snapshot)
            case OtherEnvelope():
                changed = repo.keep_other(delivery, created_at=envelope.created_at)
    except InvalidDelivery as exc:
        repo.quarantine(delivery, reason=str(exc))
        return ApplyResult(delivery.event, duplicate=not first_seen, quarantined=str(exc), lag_seconds=lag)
    return ApplyResult(delivery.event, duplicate=not first_seen, changed=changed, lag_seconds=lag)
