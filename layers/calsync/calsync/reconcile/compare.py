"""Compare one invitee as Calendly's API lists it with what is stored, and decide what to
repair. Only differences are repaired; a stored state newer than the API's read wins (the
processors enforce it too — here it keeps a second run from counting anything)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from calsync.calendly.models import Invitee, ScheduledEvent
from calsync.reconcile.deliveries import Envelope, no_show_envelope, stamp_of, state_envelope
from calsync.reconcile.ports import StoredInvitee

STATUS_RANK = {"active": 0, "canceled": 1}


class Verdict(StrEnum):
    SAME = "same"
    MISSING = "missing"  # not stored at all
    STALE = "stale"  # stored, older than the API's state (or its no-show differs)
    NEWER = "newer"  # stored state is newer than the API's read: left alone
    ERASED = "erased"  # the person was erased before this booking existed: never restored
    UNORDERED = "unordered"  # the API gives no time to order it by: cannot be repaired safely


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    repairs: tuple[Envelope, ...] = ()


def _state_differs(invitee: Invitee, stored: StoredInvitee) -> Verdict:
    stamp = stamp_of(invitee)
    assert stamp is not None
    if stored.status is None or stored.updated_at is None:
        return Verdict.MISSING
    if stored.updated_at > stamp:
        return Verdict.NEWER
    if stored.updated_at < stamp:
        return Verdict.STALE
    if STATUS_RANK.get(invitee.status, 0) > STATUS_RANK.get(stored.status, 0):
        return Verdict.STALE
    return Verdict.SAME


def _no_show_differs(invitee: Invitee, stored: StoredInvitee | None) -> bool:
    """The API's mark and the stored one differ, and the stored one is not newer."""
    api_mark = invitee.no_show.uri if invitee.no_show is not None else None
    stored_mark = stored.no_show_uri if stored is not None else None
    if api_mark == stored_mark:
        return False
    stamp = stamp_of(invitee)
    assert stamp is not None
    if stored is not None and stored_mark is not None and stored.no_show_at is not None:
        api_at = (invitee.no_show.created_at if invitee.no_show is not None else None) or stamp
        if stored.no_show_at > api_at:
            return False  # marked after the API was read: it stands
    return True


def decide(event: ScheduledEvent, invitee: Invitee, stored: StoredInvitee | None, *, erased: bool) -> Decision:
    if erased:
        return Decision(Verdict.ERASED)
    state = state_envelope(event, invitee)
    if state is None:
        return Decision(Verdict.UNORDERED)
    verdict = Verdict.MISSING if stored is None else _state_differs(invitee, stored)
    repairs: list[Envelope] = [state] if verdict in (Verdict.MISSING, Verdict.STALE) else []
    if _no_show_differs(invitee, stored):
        no_show = no_show_envelope(event, invitee)
        assert no_show is not None
        repairs.append(no_show)
        if verdict in (Verdict.SAME, Verdict.NEWER):
            verdict = Verdict.STALE
    return Decision(verdict, tuple(repairs))
