"""``bookings.records.BookingsRepository`` in memory (``DynamoBookingsRepository`` over DynamoDB):
the same merge rules, so domain tests run without moto; tests/contract/test_bookings.py runs the
same behaviour against both."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from calsync.aws import keys
from calsync.aws.views import kept_body
from calsync.bookings.records import (
    EventSnapshot,
    InviteeSnapshot,
    Link,
    NoShowChange,
    ResourceSnapshot,
    SubmissionSnapshot,
)
from calsync.intake.delivery import Delivery
from tests.fakes.table import MemoryTable

LINK_ATTRIBUTES = frozenset({"rescheduled_from", "rescheduled_to", "routing_form_submission"})
REPLAY_TTL_SECONDS = 7 * 24 * 3600
OUTCOMES = ("applied", "unchanged", "quarantined", "erased")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _newer(stored: Mapping[str, Any] | None, attribute: str, version: str) -> bool:
    current = (stored or {}).get(attribute)
    return not (isinstance(current, str) and current >= version)


class FakeBookingsRepository:
    """Every versioned write applies only when newer than what is stored (True: it changed
    something); facts and links are only ever added. ``calls`` counts the port's calls by name."""

    def __init__(self, table: MemoryTable | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.table = table if table is not None else MemoryTable()
        self.clock = clock
        self.calls: list[str] = []
        self.recap_index: dict[str, keys.Key] = {}  # a recap's lookup key → where it is stored

    def _start(self, name: str) -> None:
        self.calls.append(name)
        self.table.check(name)

    # -- the port -------------------------------------------------------------------------

    def archive(self, delivery: Delivery, *, expires_at: int) -> bool:
        self._start("archive")
        return self.table.put_new(
            keys.delivery(delivery.body_sha256),
            {
                "type": "delivery",
                "event": delivery.event,
                "connection_id": delivery.connection_id,
                "received_at": _iso(delivery.received_at),
                **kept_body(delivery.body, delivery.body_key, expires_with_archive=True),
                "expires_at": expires_at,
            },
            skip_none=True,
        )

    def upsert_invitee(self, snapshot: InviteeSnapshot) -> bool:
        self._start("upsert_invitee")
        key = keys.invitee(snapshot.ref.event_uuid, snapshot.ref.invitee_uuid)
        facts = {k: v for k, v in snapshot.facts.items() if v is not None}
        stored = self.table.item(key)
        if not _newer(stored, "v", snapshot.version):
            if all(name in (stored or {}) for name in facts):
                return False  # neither its state nor a fact would be written
            self.table.update(key, {}, if_absent=facts)
            return True
        self.table.update(key, {"v": snapshot.version, "type": "invitee", **snapshot.state}, if_absent=facts)
        return True

    def upsert_event(self, snapshot: EventSnapshot) -> bool:
        self._start("upsert_event")
        key = keys.event(snapshot.event_uuid)
        if not _newer(self.table.item(key), "v", snapshot.version):
            return False
        self.table.update(key, {"v": snapshot.version, "type": "event", **snapshot.state})
        return True

    def set_no_show(self, change: NoShowChange) -> bool:
        self._start("set_no_show")
        key = keys.invitee(change.ref.event_uuid, change.ref.invitee_uuid)
        if not _newer(self.table.item(key), "nsv", change.version):
            return False
        self.table.update(
            key,
            {"nsv": change.version, "no_show": change.mark},
            if_absent={"type": "invitee", "uri": change.invitee_uri},
        )
        return True

    def link(self, link: Link) -> None:
        self._start("link")
        if link.attribute not in LINK_ATTRIBUTES:
            raise ValueError(f"not a link attribute: {link.attribute}")
        key = keys.invitee(link.ref.event_uuid, link.ref.invitee_uuid)
        self.table.update(key, {link.attribute: link.value}, if_absent={"type": "invitee"})

    def upsert_submission(self, snapshot: SubmissionSnapshot) -> bool:
        self._start("upsert_submission")
        ref = snapshot.submitter_ref
        key = keys.submission(snapshot.uuid, ref.event_uuid if ref else None)
        if not _newer(self.table.item(key), "v", snapshot.version):
            return False
        extra = {"invitee_sk": keys.invitee_sk(ref.invitee_uuid)} if ref else {}
        self.table.update(key, {"v": snapshot.version, "type": "routing_form_submission", **snapshot.state, **extra})
        return True

    def keep_other(self, delivery: Delivery, *, created_at: datetime) -> bool:
        self._start("keep_other")
        return self.table.put_new(
            keys.other(delivery.event, _iso(created_at), delivery.body_sha256),
            {
                "type": "other",
                "event": delivery.event,
                "connection_id": delivery.connection_id,
                "received_at": _iso(delivery.received_at),
                **kept_body(delivery.body, delivery.body_key),
            },
            skip_none=True,
        )

    def upsert_resource(self, snapshot: ResourceSnapshot) -> bool:
        self._start("upsert_resource")
        extra: dict[str, Any] = {}
        if snapshot.kind == "meeting_recap":
            lookup = keys.recap_pk(snapshot.tenant, snapshot.uuid)  # GSI3, kept beside the table here
            found = self.recap_index.get(lookup)
            key = found or keys.resource(snapshot.kind, snapshot.tenant, snapshot.uuid, snapshot.event_uuid)
            self.recap_index[lookup] = key
            if key.pk.startswith("EVENT#"):
                extra["event_uuid"] = key.pk.partition("#")[2]
        else:
            key = keys.resource(snapshot.kind, snapshot.tenant, snapshot.uuid)
        if not _newer(self.table.item(key), "v", snapshot.version):
            return False
        self.table.put(key, {**extra, "type": snapshot.kind, **snapshot.state, "v": snapshot.version})
        return True

    def quarantine(self, delivery: Delivery, *, reason: str) -> None:
        self._start("quarantine")
        self.table.put_new(
            keys.quarantine(delivery.body_sha256),
            {
                "type": "quarantine",
                "event": delivery.event,
                "reason": reason,
                "connection_id": delivery.connection_id,
                "received_at": _iso(delivery.received_at),
                **kept_body(delivery.body, delivery.body_key),
            },
            skip_none=True,
        )

    def record_replay(self, replay_id: str, outcome: str) -> None:
        self._start("record_replay")
        key = keys.replay(replay_id)
        count = int((self.table.item(key) or {}).get(outcome, 0)) + 1
        self.table.update(
            key,
            {outcome: count, "type": "replay"},
            if_absent={"expires_at": int(self.clock()) + REPLAY_TTL_SECONDS},
        )

    # -- reads the adapter offers beside the port --------------------------------------------

    def replay_counts(self, replay_id: str) -> dict[str, int]:
        item = self.table.item(keys.replay(replay_id)) or {}
        return {outcome: int(item.get(outcome, 0)) for outcome in OUTCOMES}
