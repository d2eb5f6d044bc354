"""DynamoDB implementation of ``TenantBookings``: a connection's bookings a page at a time.

The connection's scheduled events come from GSI2 (``TENANT#<connection>``, sorted by start then
event uuid, every attribute projected), a Query of at most ``limit + 1`` events per request, read
lazily; each event's invitees from its own partition (``PK = EVENT#<uuid>``, the invitees' sort
key range only), in invitee uuid order, at most as many as the page still needs. So the order is
start, event uuid, invitee uuid, and a page resumes from a ``Position`` by key bounds alone: the
events from the position's start and event, that event's invitees from the position's invitee.

Every read is eventually consistent (half a read unit per 4 KB): a booking costs its share of
its event's index entry and of its event's invitee Query, about one read unit at most when every
event holds at least one booking the page returns. Filters (status, email) are applied to the
invitees read, so events whose invitees all fail them cost reads without returning a booking.
``read_units`` holds what the last page consumed (``ReturnConsumedCapacity``).

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
from calsync.read.bookings import BookingView
from calsync.read.cursor import Position

Order = tuple[datetime, str, str]
# What a page uses of each item: only these are decoded from the wire (a 100-booking page reads
# ~200 items; decoding every attribute - hosts, location, answers, payment - was most of the
# handler's time, see docs/performance.md). Read units are the same: DynamoDB bills whole items.
EVENT_ATTRIBUTES = (keys.PK, keys.SK, "GSI2SK", "start_time", "end_time", "name", "event_type")
INVITEE_ATTRIBUTES = tuple(dict.fromkeys((keys.PK, keys.SK, "v", "status", "email", *BookingView.model_fields)))


class DynamoTenantBookings(clients.TableAdapter):
    read_units: float = 0.0  # consumed by the last page

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
        self.read_units = 0.0
        resume = _order(after) if after is not None else None
        found: list[dict[str, Any]] = []
        for event in self._events(connection_id, start_after, start_before, after, limit + 1):
            start = keys.start_of(event["GSI2SK"])
            event_uuid = keys.identity(keys.Key(event[keys.PK], event[keys.SK]))[0]
            if start is None or not _inside(start, start_after, start_before):
                continue
            if resume is not None and (start, event_uuid) < resume[:2]:
                continue
            at_resume = after is not None and resume is not None and (start, event_uuid) == resume[:2]
            from_invitee = after.invitee_uuid if after is not None and at_resume else None
            for invitee in self._invitees(event_uuid, from_invitee, limit + 1 - len(found)):
                if status is not None and invitee.get("status") != status:
                    continue
                if email is not None and str(invitee.get("email") or "").strip().lower() != email:
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
        self, what: str, per_request: int, attributes: tuple[str, ...], **kwargs: Any
    ) -> Iterator[dict[str, Any]]:
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
            self.read_units += float(page.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0))
            for item in page.get("Items", []):
                yield plain_attributes(item, attributes)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _order(position: Position) -> Order:
    return timefmt.utc(timefmt.parse(position.start_time)), position.event_uuid, position.invitee_uuid


def _inside(start: datetime, start_after: datetime | None, start_before: datetime | None) -> bool:
    return (start_after is None or start > start_after) and (start_before is None or start < start_before)


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
