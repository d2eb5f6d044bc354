"""The webhook deliveries Calendly would have sent for what its API lists: one home for the
derivation the reconciler's runs (scheduled, requested, an operator's range) share.

For a routing-form submission: ``routing_form_submission.created``, dated at its creation.

For an invitee's current state: ``invitee.created`` or ``invitee.canceled``, plus
``invitee_no_show.created`` when marked (or ``invitee_no_show.deleted`` when asked to clear a
stored mark). The processors apply them like any webhook, version-aware, so what is stored
and newer is untouched.

A no-show change is ordered by its envelope's ``created_at`` (when Calendly made the change).
The removal is dated at the invitee's ``updated_at`` as the API read it: a mark stored from
before the read and gone at the read is older, so it is cleared; a mark made after the read is
newer, so it stands. The same API state gives the same body, so a second run is a duplicate.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from calsync.calendly.models import Invitee, RoutingFormSubmission, ScheduledEvent, WebhookEvent
from calsync.intake.delivery import Delivery
from calsync.intake.envelopes import InviteeEnvelope, InviteePayload, NoShowEnvelope, RoutingFormEnvelope

Envelope = InviteeEnvelope | NoShowEnvelope | RoutingFormEnvelope


def stamp_of(invitee: Invitee) -> datetime | None:
    """When the API's representation of the invitee was made (``None``: cannot be ordered)."""
    return invitee.updated_at or invitee.created_at


def _payload(event: ScheduledEvent, invitee: Invitee, stamp: datetime) -> InviteePayload:
    """The webhook payload with exactly the fields the API sent (a ``null`` it sent stays a
    ``null``, as a webhook carries it: stored values, e.g. ``tracking``, must not differ)."""
    fields = invitee.model_dump(mode="json", exclude_unset=True)
    scheduled_event = event.model_dump(mode="json", exclude_unset=True)
    return InviteePayload.model_validate({**fields, "updated_at": stamp, "scheduled_event": scheduled_event})


def state_envelope(event: ScheduledEvent, invitee: Invitee) -> InviteeEnvelope | None:
    """``invitee.created`` or ``invitee.canceled`` for the invitee's current state."""
    stamp = stamp_of(invitee)
    if stamp is None:
        return None
    payload = _payload(event, invitee, stamp)
    if invitee.status == "canceled":
        return InviteeEnvelope(event=WebhookEvent.INVITEE_CANCELED, created_at=stamp, payload=payload)
    return InviteeEnvelope(event=WebhookEvent.INVITEE_CREATED, created_at=stamp, payload=payload)


def no_show_envelope(event: ScheduledEvent, invitee: Invitee) -> NoShowEnvelope | None:
    """``invitee_no_show.created`` when the API shows a mark, else ``invitee_no_show.deleted``."""
    stamp = stamp_of(invitee)
    if stamp is None:
        return None
    payload = _payload(event, invitee, stamp)
    if invitee.no_show is not None:
        marked_at = invitee.no_show.created_at or stamp
        return NoShowEnvelope(event=WebhookEvent.INVITEE_NO_SHOW_CREATED, created_at=marked_at, payload=payload)
    return NoShowEnvelope(event=WebhookEvent.INVITEE_NO_SHOW_DELETED, created_at=stamp, payload=payload)


def submission_envelope(submission: RoutingFormSubmission) -> RoutingFormEnvelope | None:
    """``routing_form_submission.created`` as Calendly sends it when the form is submitted, with
    exactly the fields the API sent (``None`` when it gives no time to date it by)."""
    stamp = submission.created_at or submission.updated_at
    if stamp is None:
        return None
    payload = RoutingFormSubmission.model_validate(submission.model_dump(mode="json", exclude_unset=True))
    return RoutingFormEnvelope(event=WebhookEvent.ROUTING_FORM_SUBMISSION_CREATED, created_at=stamp, payload=payload)


def delivery(connection_id: str, envelope: Envelope, received_at: datetime) -> Delivery:
    """The queue message for an envelope; the same state always gives the same body (and so
    the same archive key)."""
    body = envelope.model_dump_json(exclude_unset=True).encode()
    return Delivery(
        connection_id=connection_id,
        received_at=received_at,
        body_sha256=hashlib.sha256(body).hexdigest(),
        event=str(envelope.event),
        body=body.decode(),
    )
