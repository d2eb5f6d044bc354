"""Which queue each event kind goes to. Unknown events go to ``other``: never dropped."""

from __future__ import annotations

from enum import StrEnum

from calsync.webhooks import models


class QueueKind(StrEnum):
    INVITEE_CREATED = "invitee-created"
    INVITEE_CANCELED = "invitee-canceled"
    INVITEE_NO_SHOW = "invitee-no-show"
    ROUTING_FORM = "routing-form"
    OTHER = "other"


_ROUTES = {
    models.INVITEE_CREATED: QueueKind.INVITEE_CREATED,
    models.INVITEE_CANCELED: QueueKind.INVITEE_CANCELED,
    models.NO_SHOW_CREATED: QueueKind.INVITEE_NO_SHOW,
    models.NO_SHOW_DELETED: QueueKind.INVITEE_NO_SHOW,
    models.ROUTING_FORM_SUBMISSION_CREATED: QueueKind.ROUTING_FORM,
}


def route(event: str) -> QueueKind:
    return _ROUTES.get(event, QueueKind.OTHER)
