"""DynamoDB implementation of the bookings repository (single-table design; the layout
and every key format are in ``calsync.aws.keys``).

Every versioned write is an ``UpdateItem`` conditioned on ``attribute_not_exists(v) OR
v < :v``, so a stale or repeated delivery changes nothing. An invitee's facts are added
with ``if_not_exists`` in that write and, when its version loses, by a second write
conditioned on one of them being absent (so a duplicate still changes nothing). Reads
return the typed views of ``calsync.aws.views``.

A write that fails its condition still costs DynamoDB the stored item's size in write units,
so each versioned write first reads what is stored (eventually consistent, half a read unit)
and is skipped when it can be known to change nothing: a stored version at least as new, facts
and links already in place. Versions only grow and facts and links are never changed, so a
stale read can only lead to a write whose condition then decides, never to a skipped change.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from calsync.aws import keys
from calsync.aws.dynamo import (
    batch_get_items,
    conditional,
    plain_item,
    query_items,
    scan_items,
    serialise_item,
)
from calsync.aws.errors import aws_call
from calsync.aws.updates import Update
from calsync.aws.views import (
    ScheduledEventItem,
    ScheduledEventWithInvitees,
    StoredBooking,
    StoredDelivery,
    StoredItem,
    StoredResource,
    StoredSubmission,
    kept_body,
    view,
)
from calsync.bookings.aws_resources import ResourceTable
from calsync.bookings.records import (
    EventSnapshot,
    InviteeRef,
    InviteeSnapshot,
    Link,
    NoShowChange,
    SubmissionSnapshot,
    stored_time,
)
from calsync.intake.delivery import Delivery

REPLAY_TTL_SECONDS = 7 * 24 * 3600
LINK_ATTRIBUTES = frozenset({"rescheduled_from", "rescheduled_to", "routing_form_submission"})


def invitee_key(ref: InviteeRef) -> keys.Key:
    return keys.invitee(ref.event_uuid, ref.invitee_uuid)


class DynamoBookingsRepository(ResourceTable):
    # -- writes -------------------------------------------------------------------------

    def _conditional_update(self, what: str, key: keys.Key, update: Update, condition: str | None) -> bool:
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "Key": key.dynamo(),
            "UpdateExpression": update.expression,
            "ExpressionAttributeNames": update.names,
            "ExpressionAttributeValues": update.values,
        }
        if condition:
            kwargs["ConditionExpression"] = condition
        keys.check_sizes(what, {**key.attributes(), **update.key_values})
        return conditional(
            f"dynamodb:UpdateItem ({what})", lambda: self.client.update_item(**kwargs), input_checked=True
        )

    def _stored(self, what: str, key: keys.Key, *names: str) -> dict[str, Any]:
        """The named attributes of the item at ``key`` as stored (``{}`` when there is none)."""
        placeholders = {f"#p{i}": name for i, name in enumerate(names)}
        keys.check_sizes(what, key.attributes())
        with aws_call(f"dynamodb:GetItem ({what})", input_checked=True):
            found = self.client.get_item(
                TableName=self.table_name,
                Key=key.dynamo(),
                ProjectionExpression=", ".join(placeholders),
                ExpressionAttributeNames=placeholders,
            )
        return plain_item(found.get("Item", {}))

    @staticmethod
    def _not_newer(stored: Mapping[str, Any], attribute: str, version: str) -> bool:
        """Whether the stored version is at least ``version`` (the write's condition would fail)."""
        current = stored.get(attribute)
        return isinstance(current, str) and current >= version

    def _put_new(self, what: str, key: keys.Key, attributes: Mapping[str, Any]) -> bool:
        keys.check_sizes(what, key.attributes())
        item = serialise_item({**key.attributes(), **attributes}, skip_none=True)
        return conditional(
            f"dynamodb:PutItem ({what})",
            lambda: self.client.put_item(
                TableName=self.table_name, Item=item, ConditionExpression="attribute_not_exists(PK)"
            ),
            input_checked=True,
        )

    def archive(self, delivery: Delivery, *, expires_at: int) -> bool:
        return self._put_new(
            "archive",
            keys.delivery(delivery.body_sha256),
            {
                "type": "delivery",
                "event": delivery.event,
                "connection_id": delivery.connection_id,
                "received_at": stored_time(delivery.received_at),
                **kept_body(delivery.body, delivery.body_key, expires_with_archive=True),
                "expires_at": expires_at,
            },
        )

    def upsert_invitee(self, snapshot: InviteeSnapshot) -> bool:
        facts = {k: v for k, v in snapshot.facts.items() if v is not None}
        key = invitee_key(snapshot.ref)
        stored = self._stored("invitee", key, "v", *facts)
        if self._not_newer(stored, "v", snapshot.version):
            if all(name in stored for name in facts):
                return False  # neither its state nor a fact would be written
            return self._add_facts(key, snapshot, facts)
        update = Update()
        condition = update.newer_than_stored("v", snapshot.version)
        update.set_all({"type": "invitee", **snapshot.state})
        update.add_all(facts)
        if snapshot.email:
            update.set("GSI1PK", keys.email_pk(snapshot.email))
        tenant = snapshot.state.get("tenant")
        if isinstance(tenant, str) and tenant:  # the read API's lookup by invitee uuid (GSI3)
            update.set("GSI3PK", keys.booking_pk(tenant, snapshot.ref.invitee_uuid))
        self._sort_by_start(update, snapshot)
        if self._conditional_update("invitee", key, update, condition):
            return True
        return self._add_facts(key, snapshot, facts) if facts else False

    def _add_facts(self, key: keys.Key, snapshot: InviteeSnapshot, facts: Mapping[str, Any]) -> bool:
        """Older than (or equal to) what is stored: its state loses, but facts only it carries
        are added (they never change for an invitee), and nothing else."""
        update = Update()
        condition = update.add_all(facts)
        if snapshot.start_time is not None:
            self._sort_by_start(update, snapshot)
        return self._conditional_update("invitee facts", key, update, condition)

    @staticmethod
    def _sort_by_start(update: Update, snapshot: InviteeSnapshot) -> None:
        """The by-email index's sort key: the start once known (it never changes for an
        invitee), else "unknown" until a delivery brings it; and, once the start is known, the
        by-connection index's keys (after its event's entry: a bookings page is one Query)."""
        tenant = snapshot.state.get("tenant")
        if snapshot.start_time is not None and isinstance(tenant, str) and tenant:
            update.set("GSI2PK", keys.tenant_pk(tenant))
            update.set(
                "GSI2SK",
                keys.tenant_invitee_sk(snapshot.start_time, snapshot.ref.event_uuid, snapshot.ref.invitee_uuid),
            )
        if not snapshot.email:
            return
        sort = keys.email_sk(snapshot.start_time, snapshot.ref.invitee_uuid)
        if snapshot.start_time is not None:
            update.set("GSI1SK", sort)
        else:
            update.set_if_absent("GSI1SK", sort)

    def upsert_event(self, snapshot: EventSnapshot) -> bool:
        key = keys.event(snapshot.event_uuid)
        if self._not_newer(self._stored("event", key, "v"), "v", snapshot.version):
            return False  # unchanged (or older): not rewritten
        update = Update()
        condition = update.newer_than_stored("v", snapshot.version)
        update.set_all({"type": "event", **snapshot.state})
        if snapshot.start_time is not None:
            update.set("GSI2PK", keys.tenant_pk(snapshot.tenant))
            update.set("GSI2SK", keys.tenant_sk(snapshot.start_time, snapshot.event_uuid))
        return self._conditional_update("event", key, update, condition)

    def set_no_show(self, change: NoShowChange) -> bool:
        if self._not_newer(self._stored("no-show", invitee_key(change.ref), "nsv"), "nsv", change.version):
            return False
        update = Update()
        condition = update.newer_than_stored("nsv", change.version)
        update.set("no_show", change.mark)
        update.set_if_absent("type", "invitee")
        update.set_if_absent("uri", change.invitee_uri)
        return self._conditional_update("no-show", invitee_key(change.ref), update, condition)

    def link(self, link: Link) -> None:
        if link.attribute not in LINK_ATTRIBUTES:
            raise ValueError(f"not a link attribute: {link.attribute}")
        stored = self._stored("link", invitee_key(link.ref), link.attribute, "type")
        if stored.get(link.attribute) == link.value and "type" in stored:
            return  # already in place
        update = Update()
        update.set(link.attribute, link.value)
        update.set_if_absent("type", "invitee")
        self._conditional_update("link", invitee_key(link.ref), update, None)

    def upsert_submission(self, snapshot: SubmissionSnapshot) -> bool:
        ref = snapshot.submitter_ref
        key = keys.submission(snapshot.uuid, ref.event_uuid if ref else None)
        if self._not_newer(self._stored("submission", key, "v"), "v", snapshot.version):
            return False
        update = Update()
        condition = update.newer_than_stored("v", snapshot.version)
        update.set_all({"type": "routing_form_submission", **snapshot.state})
        if ref:
            update.set("invitee_sk", keys.invitee_sk(ref.invitee_uuid))
        return self._conditional_update("submission", key, update, condition)

    def keep_other(self, delivery: Delivery, *, created_at: datetime) -> bool:
        return self._put_new(
            "other",
            keys.other(delivery.event, stored_time(created_at), delivery.body_sha256),
            {
                "type": "other",
                "event": delivery.event,
                "connection_id": delivery.connection_id,
                "received_at": stored_time(delivery.received_at),
                **kept_body(delivery.body, delivery.body_key),
            },
        )

    def quarantine(self, delivery: Delivery, *, reason: str) -> None:
        self._put_new(
            "quarantine",
            keys.quarantine(delivery.body_sha256),
            {
                "type": "quarantine",
                "event": delivery.event,
                "reason": reason,
                "connection_id": delivery.connection_id,
                "received_at": stored_time(delivery.received_at),
                **kept_body(delivery.body, delivery.body_key),
            },
        )

    def record_replay(self, replay_id: str, outcome: str) -> None:
        """Count one replayed delivery's outcome on the replay's item (kept a week)."""
        key = keys.replay(replay_id)
        with aws_call("dynamodb:UpdateItem (replay)"):
            self.client.update_item(
                TableName=self.table_name,
                Key=key.dynamo(),
                UpdateExpression="ADD #o :one SET #t = :t, expires_at = if_not_exists(expires_at, :ttl)",
                ExpressionAttributeNames={"#o": outcome, "#t": "type"},
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":t": {"S": "replay"},
                    ":ttl": {"N": str(int(time.time()) + REPLAY_TTL_SECONDS)},
                },
            )

    def replay_counts(self, replay_id: str) -> dict[str, int]:
        """How many of a replay's deliveries were applied, unchanged, quarantined or refused
        (about an erased person) so far."""
        with aws_call("dynamodb:GetItem (replay)"):
            found = self.client.get_item(
                TableName=self.table_name, Key=keys.replay(replay_id).dynamo(), ConsistentRead=True
            )
        item = plain_item(found.get("Item", {}))
        return {outcome: int(item.get(outcome, 0)) for outcome in ("applied", "unchanged", "quarantined", "erased")}

    def archived(self, *, quarantined: bool = False) -> list[StoredDelivery]:
        """The archived (or quarantined) deliveries, oldest first (operator tooling: a Scan)."""
        items = self.scan_type("quarantine" if quarantined else "delivery")
        found = [item for item in items if isinstance(item, StoredDelivery)]
        return sorted(found, key=lambda d: (d.received_at or "", d.body_sha256))

    # -- reads --------------------------------------------------------------------------

    def _query(self, what: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return query_items(self.client, what, TableName=self.table_name, **kwargs)

    def scheduled_event(self, event_uuid: str) -> ScheduledEventWithInvitees:
        """The scheduled event with all its invitees (and submissions): one Query."""
        event: ScheduledEventItem | None = None
        invitees: list[StoredBooking] = []
        submissions: list[StoredSubmission] = []
        recaps: list[StoredResource] = []
        for item in self._query(
            "event",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.event_pk(event_uuid)}},
        ):
            match view(item):
                case ScheduledEventItem() as found:
                    event = found
                case StoredBooking() as booking:
                    invitees.append(booking)
                case StoredSubmission() as submission:
                    submissions.append(submission)
                case StoredResource(type="meeting_recap") as recap:
                    recaps.append(recap)
                case other:
                    raise ValueError(f"unexpected {other.type} item under a scheduled event")
        return ScheduledEventWithInvitees(event=event, invitees=invitees, submissions=submissions, recaps=recaps)

    def bookings_by_email(
        self, email: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[StoredBooking]:
        """All bookings of an invitee email, ordered by start time: one Query on GSI1 (keys only),
        then the items by BatchGetItem."""
        return [StoredBooking.from_item(i) for i in self._window(keys.GSI1, keys.email_pk(email), start, end)]

    def events_for_tenant(
        self, tenant: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> list[ScheduledEventItem]:
        """A connection's (organization's) events in a start-time window: one Query on GSI2
        (which lists each event's invitees after it too: those are left out)."""
        return [
            ScheduledEventItem.from_item(i)
            for i in self._window(keys.GSI2, keys.tenant_pk(tenant), start, end)
            if keys.is_event_entry(i[keys.SK])
        ]

    def _window(self, index: str, pk: str, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
        """Items whose start is in ``[start, end]``, in start order (keys of both spellings).

        From an index of keys only (``keys.KEYS_ONLY_INDEXES``: an entry costs a write only
        when an item enters the index or its start changes, never when its state does) the
        Query finds the items and their order, and one BatchGetItem per 100 reads them whole."""
        lo, hi = keys.window(start, end)
        sort = f"{index}SK"
        entries = self._query(
            index,
            IndexName=index,
            KeyConditionExpression=f"{index}PK = :pk AND {sort} BETWEEN :lo AND :hi",
            ExpressionAttributeValues={":pk": {"S": pk}, ":lo": {"S": lo}, ":hi": {"S": hi}},
        )
        found = [
            (keys.start_of(entry[sort]), entry[sort], entry)
            for entry in entries
            if keys.in_window(entry[sort], start, end)
        ]
        found.sort(key=lambda entry: (entry[0] is None, entry[0] or datetime.min.replace(tzinfo=UTC), entry[1]))
        if index not in keys.KEYS_ONLY_INDEXES:
            return [item for _, _, item in found]
        wanted = [(entry[keys.PK], entry[keys.SK]) for _, _, entry in found]
        items = batch_get_items(self.client, index, self.table_name, [keys.Key(*k).dynamo() for k in wanted])
        return [items[k] for k in wanted if k in items]

    def scan_type(self, item_type: str) -> list[StoredItem]:
        """Every item of a type (operator tooling and tests; not for request paths)."""
        return [
            view(item)
            for item in scan_items(
                self.client,
                item_type,
                TableName=self.table_name,
                FilterExpression="#t = :t",
                ExpressionAttributeNames={"#t": "type"},
                ExpressionAttributeValues={":t": {"S": item_type}},
            )
        ]

    def all_bookings(self) -> list[StoredBooking]:
        """Every invitee (operator tooling; a Scan, not for request paths)."""
        return [item for item in self.scan_type("invitee") if isinstance(item, StoredBooking)]
