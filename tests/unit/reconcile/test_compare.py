"""What the reconciler repairs: only differences, and never over a newer stored state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from calsync.calendly.models import Invitee, ScheduledEvent, WebhookEvent
from calsync.reconcile.compare import Verdict, decide
from calsync.reconcile.ports import StoredInvitee

EVENT_URI = "https://api.calendly.com/scheduled_events/EVENT1"
URI = f"{EVENT_URI}/invitees/INV1"
T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
T1 = datetime(2026, 12, 1, 11, tzinfo=UTC)
T2 = datetime(2026, 12, 1, 12, tzinfo=UTC)
EVENT = ScheduledEvent.model_validate(
    {"uri": EVENT_URI, "status": "active", "start_time": "2026-12-02T10:00:00Z", "end_time": "2026-12-02T10:30:00Z"}
)


def api(status: str = "active", updated_at: datetime | None = T1, **extra: Any) -> Invitee:
    return Invitee.model_validate(
        {
            "uri": URI,
            "event": EVENT_URI,
            "status": status,
            "email": "ada@example.com",
            "updated_at": updated_at,
            **extra,
        }
    )


def stored(
    status: str | None = "active", updated_at: datetime | None = T1, mark: str | None = None, at: datetime | None = None
) -> StoredInvitee:
    return StoredInvitee(URI, status, updated_at, mark, at)


def events(decision: Any) -> list[str]:
    return [str(envelope.event) for envelope in decision.repairs]


def test_an_invitee_calsync_never_stored_is_missing_and_delivered_as_created() -> None:
    decision = decide(EVENT, api(), None, erased=False)
    assert decision.verdict is Verdict.MISSING
    assert events(decision) == [WebhookEvent.INVITEE_CREATED]


def test_a_missing_canceled_invitee_with_a_no_show_gets_both_deliveries() -> None:
    mark = {"uri": "https://api.calendly.com/invitee_no_shows/NS1", "created_at": "2026-12-01T10:30:00Z"}
    decision = decide(EVENT, api("canceled", no_show=mark), None, erased=False)
    assert decision.verdict is Verdict.MISSING
    assert events(decision) == [WebhookEvent.INVITEE_CANCELED, WebhookEvent.INVITEE_NO_SHOW_CREATED]


def test_the_same_state_repairs_nothing() -> None:
    assert decide(EVENT, api(), stored(), erased=False) == decide(EVENT, api(), stored(), erased=False)
    assert decide(EVENT, api(), stored(), erased=False).verdict is Verdict.SAME
    assert events(decide(EVENT, api(), stored(), erased=False)) == []


@pytest.mark.parametrize(
    ("stored_state", "verdict"),
    [
        (stored(updated_at=T0), Verdict.STALE),  # older than the API's
        (stored(updated_at=T1), Verdict.SAME),
        (stored(updated_at=T2), Verdict.NEWER),  # a webhook newer than the API's read
        (stored(status=None, updated_at=None), Verdict.MISSING),  # only a link or a no-show stored
    ],
)
def test_stored_state_is_compared_by_time(stored_state: StoredInvitee, verdict: Verdict) -> None:
    decision = decide(EVENT, api(), stored_state, erased=False)
    assert decision.verdict is verdict
    assert bool(decision.repairs) is (verdict in (Verdict.STALE, Verdict.MISSING))


def test_a_cancellation_at_the_same_time_wins_over_active() -> None:
    assert decide(EVENT, api("canceled"), stored("active"), erased=False).verdict is Verdict.STALE
    assert decide(EVENT, api("active"), stored("canceled"), erased=False).verdict is Verdict.SAME


def test_a_no_show_marked_in_calendly_but_not_stored_is_repaired() -> None:
    mark = {"uri": "https://api.calendly.com/invitee_no_shows/NS1", "created_at": "2026-12-01T10:30:00Z"}
    decision = decide(EVENT, api(no_show=mark), stored(), erased=False)
    assert decision.verdict is Verdict.STALE
    assert events(decision) == [WebhookEvent.INVITEE_NO_SHOW_CREATED]


def test_a_no_show_cleared_in_calendly_is_cleared() -> None:
    decision = decide(EVENT, api(), stored(mark="https://api.calendly.com/invitee_no_shows/NS1", at=T0), erased=False)
    assert decision.verdict is Verdict.STALE
    assert events(decision) == [WebhookEvent.INVITEE_NO_SHOW_DELETED]


def test_a_no_show_marked_after_the_api_was_read_stands() -> None:
    decision = decide(EVENT, api(), stored(mark="https://api.calendly.com/invitee_no_shows/NS2", at=T2), erased=False)
    assert decision.verdict is Verdict.SAME
    assert events(decision) == []


def test_an_erased_person_is_counted_not_restored() -> None:
    decision = decide(EVENT, api(), None, erased=True)
    assert decision.verdict is Verdict.ERASED
    assert decision.repairs == ()


def test_an_invitee_without_any_time_cannot_be_ordered_and_is_left_alone() -> None:
    decision = decide(EVENT, api(updated_at=None), None, erased=False)
    assert decision.verdict is Verdict.UNORDERED
    assert decision.repairs == ()
