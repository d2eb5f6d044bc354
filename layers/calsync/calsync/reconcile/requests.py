"""A request to reconcile one connection's window now: the message the subscription watchdog
sends to the reconcile-requests queue when Calendly retries or a subscription was re-created
(the gap), and that the reconciler consumes. One home for the contract: both sides use it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from calsync.calendly.models import UtcDatetime


class ReconcileRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    connection_id: str
    since: UtcDatetime  # start of the window of meeting start times to cover
    until: UtcDatetime | None = None  # None: the reconciler's own "upcoming" horizon
    reason: str  # why (it appears in the run's report), e.g. "subscription recreated (was disabled)"
    requested_at: UtcDatetime
    # Set only on the reconciler's own continuation of a request it could not finish: the
    # scheduled events starting exactly at ``since`` it already covered (so none is counted twice).
    done_at_since: tuple[str, ...] = ()
    # Set only on a continuation: its window starts at a meeting time, and the routing-form
    # submissions of the gap were the first run's to cover (or the scheduled runs').
    continuation: bool = False

    def message_body(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_message_body(cls, body: str) -> ReconcileRequest:
        return cls.model_validate_json(body)
