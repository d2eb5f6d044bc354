"""Which queue each event goes to: ``QueueKind`` is the one list of queues in Python.

Unknown events go to ``other``: never dropped. The template's per-kind resources and the
receiver's environment follow from the kinds (``pascal``, ``env_var``).
"""

from __future__ import annotations

from enum import StrEnum

from calsync.calendly.models import WebhookEvent


class QueueKind(StrEnum):
    INVITEE_CREATED = "invitee-created"
    INVITEE_CANCELED = "invitee-canceled"
    INVITEE_NO_SHOW = "invitee-no-show"
    ROUTING_FORM = "routing-form"
    OTHER = "other"

    @property
    def pascal(self) -> str:
        """The template's name for the kind: ``invitee-no-show`` → ``InviteeNoShow``."""
        return "".join(word.capitalize() for word in self.value.split("-"))

    @property
    def env_var(self) -> str:
        """The receiver's environment variable holding this kind's queue URL."""
        return f"{self.pascal}QueueUrl"


_ROUTES: dict[str, QueueKind] = {
    WebhookEvent.INVITEE_CREATED: QueueKind.INVITEE_CREATED,
    WebhookEvent.INVITEE_CANCELED: QueueKind.INVITEE_CANCELED,
    WebhookEvent.INVITEE_NO_SHOW_CREATED: QueueKind.INVITEE_NO_SHOW,
    WebhookEvent.INVITEE_NO_SHOW_DELETED: QueueKind.INVITEE_NO_SHOW,
    WebhookEvent.ROUTING_FORM_SUBMISSION_CREATED: QueueKind.ROUTING_FORM,
}


def route(event: str) -> QueueKind:
    return _ROUTES.get(event, QueueKind.OTHER)
