"""DynamoDB implementation of ``TenantBookings``: a connection's bookings a page at a time.

GSI2 (``TENANT#<connection>``, every attribute projected) lists a connection's scheduled events by
start then event uuid, and each event's invitees right after it (an invitee's ``GSI2SK`` is its
event's plus ``#<invitee uuid>``). So a page is one Query of that index from the window's start
(or just after the cursor's position) to its end: events and invitees interleaved in start,
event uuid, invitee uuid order, each invitee joined with the event entry read before it. An
invitee read without its event before it (a page resuming inside an event; an event keyed in the
whole-second spelling, which sorts after its invitees) costs one Query of its event's item. The
``status`` and ``email`` filters are a FilterExpression (event entries always pass): DynamoDB
bills what the Query reads, so a filtered page costs the entries it reads past, returned or not.

An invitee is listed once a delivery brings its start: one only ever delivered in the 2020 shape
(no scheduled event) since the migration is not (docs/performance.md). Invitees stored before
they were listed in GSI2 have no keys there until ``calsync migrate``'s
``gsi2-tenant-invitees`` step gives them theirs; until that step is recorded (one GetItem per page,
then remembered for the instance's life) a page reads the events from GSI2 and each event's
invitees from its own partition (``_per_event_page``: the same order and cursors, one request per
event). Either way every read is eventually consistent; ``read_units`` holds what the last page
consumed (``ReturnConsumedCapacity``) and ``requests`` how many requests it made.

An index key written before keys had a fraction (``keys.window``) sorts after the keys of the
same second written since, whatever its event uuid: two events starting in the same second, one
keyed each way, come in index order, and a page ending between them may skip the older-keyed one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from calsync import timefmt
from calsync.aws import clients, keys
from calsync.aws.dynamo import plain_attributes
from calsync.aws.errors import aws_call
from calsync.migrate import tenant_index
from calsync.read.bookings import BookingView
from calsync.read.cursor import Position

Order = tuple[datetime, str, str]
# What a page uses of each item: only these are decoded from the wire (a 100-booking page reads
# ~200 items; decoding every attribute - hosts, location, answers, payment - was most of the
# handler's time, see docs/performance.md). Read units are the same: DynamoDB bills whole items.
EVENT_ATTRIBUTES = (keys.PK, keys.SK, "GSI2SK", "start_time", "end_time", "name", "event_type")
INVITEE_ATTRIBUTES = tuple(
    dict.fromkeys((keys.PK, keys.SK, "GSI2SK", "v", "status", "email", *BookingView.model_fields))
)


class DynamoTenantBookings(clients.TableAdapter):
    read_units: float = 0.0  # consumed by the last page
    requests: int = 0  # made by the last page
    _indexed: bool = False  # the gsi2-tenant-invitees step is recorded (never unrecorded)

    def page(
        self,
        connection_id: str,
        *,
        start_after: datetime | None,
        start_before: datetime | None,
        status: str | None,
        email: str | None,
        after: Position | None,
        limit: int,
    ) -> tuple[Sequence[Mapping[str, Any]], Position | None]:
        self.read_units, self.requests = 0.0, 0
        read = self._one_query_page if self._invitees_indexed() else self._per_event_page
        return read(
            connection_id,
            start_after=start_after,
            start_before=start_before,
            status=status,
            email=email,
            after=after,
            limit=limit,
        )

    def _invitees_indexed(self) -> bool:
        """Whether every invitee carries its GSI2 keys (``calsync migrate`` recorded the step)."""
        if not self._indexed:
            with aws_call("dynamodb:GetItem (bookings page: migration)"):
                found = self.client.get_item(
                    TableName=self.table_name,
                    Key=keys.migration(tenant_index.NAME).dynamo(),
                    ProjectionExpression="PK",
                    ReturnConsumedCapacity="TOTAL",
                )
            self.requests += 1
            self.read_units += float(found.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
            self._indexed = "Item" in found
        return self._indexed

    def _one_query_page(
        self,
        connection_id: str,
        *,
        start_after: datetime | None,
        start_before: datetime | None,
        status: str | None,
        email: str | None,
        after: Position | None,
        limit: int,
    ) -> tuple[Sequence[Mapping[str, Any]], Position | None]:
        lo, hi = keys.window(start_after, start_before)
        if after is not None:  # just after the last booking returned: nothing sorts in between
            lo = max(lo, keys.tenant_invitee_sk(after.start_time, after.event_uuid, after.invitee_uuid) + "#")
        values = {":pk": {"S": keys.tenant_pk(connection_id)}, ":lo": {"S": lo}, ":hi": {"S": hi}}
        request: dict[str, Any] = {}
        wanted = []
        if status is not None:
            wanted.append("#status = :status")
            values[":status"] = {"S": status}
            request["ExpressionAttributeNames"] = {"#status": "status"}
        if email is not None:
            wanted.append("GSI1PK = :email")
            values[":email"] = {"S": keys.email_pk(email)}
        if wanted:
            values[":event"] = {"S": keys.event("").sk}
            request["FilterExpression"] = f"SK = :event OR ({' AND '.join(wanted)})"
        found: list[dict[str, Any]] = []
        event: Mapping[str, Any] = {}
        for item in self._query(
            "bookings page",
            2 * (limit + 1) + 1,  # a page of one-invitee events and the entry after it
            None,  # each entry decoded as its kind needs (an event's 7 attributes, an invitee's)
            IndexName=keys.GSI2,
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues=values,
            **request,
        ):
            if keys.is_event_entry(item[keys.SK]["S"]):
                event = plain_attributes(item, EVENT_ATTRIBUTES)
                continue
            item = plain_attributes(item, INVITEE_ATTRIBUTES)
            start = keys.start_of(item["GSI2SK"])
            if start is None or not _inside(start, start_after, start_before):
                continue
            if not _wanted(item, status, email):
                continue
            if event.get(keys.PK) != item[keys.PK]:
                event = self._event(item[keys.PK])
            found.append(joined_booking(event, item, start))
            if len(found) > limit:
                break
        page = found[:limit]
        if len(found) <= limit:
            return page, None
        last = page[-1]
        return page, Position(last["start_time"], last["event_uuid"], last["invitee_uuid"])

    def _event(self, pk: str) -> dict[str, Any]:
        """The event item of an invitee read without it before (``{}`` when there is none)."""
        for item in self._query(
            "bookings page: event",
            1,
            EVENT_ATTRIBUTES,
            KeyConditionExpression="PK = :pk AND SK = :sk",
            ExpressionAttributeValues={":pk": {"S": pk}, ":sk": {"S": keys.event("").sk}},
        ):
            return item
        return {keys.PK: pk}

    def _per_event_page(
        self,
        connection_id: str,
        *,
        start_after: datetime | None,
        start_before: datetime | None,
        status: str | None,
        email: str | None,
        after: Position | None,
        limit: int,
    ) -> tuple[Sequence[Mapping[str, Any]], Position | None]:
        """A page before the migration step: each event's invitees from its own partition."""
        resume = _order(after) if after is not None else None
        found: list[dict[str, Any]] = []
        for event in self._events(connection_id, start_after, start_before, after, limit + 1):
            if not keys.is_event_entry(event[keys.SK]):
                continue  # an invitee some processor has already listed: read with its event
            start = keys.start_of(event["GSI2SK"])
            event_uuid = keys.identity(keys.Key(event[keys.PK], event[keys.SK]))[0]
            if start is None or not _inside(start, start_after, start_before):
                continue
            if resume is not None and (start, event_uuid) < resume[:2]:
                continue
            at_resume = after is not None and resume is not None and (start, event_uuid) == resume[:2]
            from_invitee = after.invitee_uuid if after is not None and at_resume else None
            for invitee in self._invitees(event_uuid, from_invitee, limit + 1 - len(found)):
                if not _wanted(invitee, status, email):
                    continue
                found.append(joined_booking(event, invitee, start))
                if len(found) > limit:
                    break
            if len(found) > limit:
                break
        page = found[:limit]
        last = page[-1] if len(found) > limit else None
        return page, (Position(last["start_time"], last["event_uuid"], last["invitee_uuid"]) if last else None)

    def _events(
        self,
        connection_id: str,
        start_after: datetime | None,
        start_before: datetime | None,
        after: Position | None,
        per_request: int,
    ) -> Iterator[dict[str, Any]]:
        """The connection's events from the window's start (or the position's event), in index
        order, one request of ``per_request`` at a time, only as far as the caller reads."""
        lo, hi = keys.window(start_after, start_before)
        if after is not None:
            lo = max(lo, keys.tenant_sk(after.start_time, after.event_uuid))
        yield from self._query(
            "bookings page: events",
            per_request,
            EVENT_ATTRIBUTES,
            IndexName=keys.GSI2,
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": keys.tenant_pk(connection_id)},
                ":lo": {"S": lo},
                ":hi": {"S": hi},
            },
        )

    def _invitees(self, event_uuid: str, after_invitee: str | None, wanted: int) -> Iterator[dict[str, Any]]:
        """An event's invitees in uuid order, after ``after_invitee`` when given."""
        lo, hi = keys.invitees_from(after_invitee)
        for item in self._query(
            "bookings page: invitees",
            wanted + (after_invitee is not None),
            INVITEE_ATTRIBUTES,
            KeyConditionExpression="PK = :pk AND SK BETWEEN :lo AND :hi",
            ExpressionAttributeValues={
                ":pk": {"S": keys.event_pk(event_uuid)},
                ":lo": {"S": lo},
                ":hi": {"S": hi},
            },
        ):
            if item[keys.SK] != lo or after_invitee is None:
                yield item

    def _query(
        self, what: str, per_request: int, attributes: tuple[str, ...] | None, **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
        """The items, only ``attributes`` of each decoded (``None``: as on the wire)."""
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "Limit": max(1, min(per_request, 1000)),
            "ConsistentRead": False,
            "ReturnConsumedCapacity": "TOTAL",
            **kwargs,
        }
        while True:
            with aws_call(f"dynamodb:Query ({what})"):
                page = self.client.query(**request)
            self.requests += 1
            self.read_units += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
            items: list[dict[str, Any]] = page.get("Items", [])
            yield from items if attributes is None else (plain_attributes(item, attributes) for item in items)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _order(position: Position) -> Order:
    return timefmt.utc(timefmt.parse(position.start_time)), position.event_uuid, position.invitee_uuid


def _inside(start: datetime, start_after: datetime | None, start_before: datetime | None) -> bool:
    return (start_after is None or start > start_after) and (start_before is None or start < start_before)


def _wanted(invitee: Mapping[str, Any], status: str | None, email: str | None) -> bool:
    if status is not None and invitee.get("status") != status:
        return False
    return email is None or str(invitee.get("email") or "").strip().lower() == email


def joined_booking(event: Mapping[str, Any], invitee: Mapping[str, Any], start: datetime | None) -> dict[str, Any]:
    """The invitee's attributes with its ids, and its event's start, name and type (the event
    holds the start the page is ordered by; ``start`` its index key's, when read from it)."""
    event_uuid, invitee_uuid = keys.identity(keys.Key(invitee[keys.PK], invitee[keys.SK]))
    attributes = {k: v for k, v in invitee.items() if k not in keys.KEY_ATTRIBUTES}
    return {
        **attributes,
        "event_uuid": event_uuid,
        "invitee_uuid": invitee_uuid,
        "start_time": event.get("start_time")
        or (timefmt.iso_z(start) if start is not None else attributes.get("start_time")),
        "end_time": attributes.get("end_time") or event.get("end_time"),
        "event_name": attributes.get("event_name") or event.get("name"),
        "event_type": event.get("event_type"),
    }
