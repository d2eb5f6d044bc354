"""The reconciler's storage ports in memory: ``StoredBookings`` (``DynamoStoredBookings``)
reading what the bookings fakes wrote to the same table, and ``ReconcileState``
(``DynamoReconcileState``): the cursor on the connection's item and the run reports.
tests/contract/test_reconcile.py runs the same behaviour against the AWS adapters on moto.
(The ``Lister`` is Calendly: ``calsync_dev.fake_calendly.FakeCalendly`` behind the real client.)"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from calsync.aws import keys
from calsync.bookings.records import InviteeRef, last_segment
from calsync.reconcile.ports import StoredInvitee
from tests.fakes.table import MemoryTable

REPORT_TTL_DAYS = 90
CURSOR_ATTRIBUTE = "reconcile_cursor"


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


class FakeStoredBookings:
    def __init__(self, table: MemoryTable | None = None) -> None:
        self.table = table if table is not None else MemoryTable()

    def invitees_of(self, event_uri: str) -> dict[str, StoredInvitee]:
        event_uuid = last_segment(event_uri)
        if event_uuid is None:
            return {}
        found: dict[str, StoredInvitee] = {}
        for _, item in self.table.partition(keys.event_pk(event_uuid)):
            uri = item.get("uri")
            if item.get("type") != "invitee" or not uri:
                continue
            mark = item.get("no_show") or {}
            found[uri] = StoredInvitee(
                uri=uri,
                status=item.get("status"),
                updated_at=_time(item.get("updated_at")),
                no_show_uri=mark.get("uri"),
                no_show_at=_time(mark.get("created_at")),
            )
        return found

    def has_submission(self, uuid: str, submitter: InviteeRef | None) -> bool:
        wanted = [keys.submission(uuid, None)]
        if submitter is not None:
            wanted.append(keys.submission(uuid, submitter.event_uuid))
        return any(key in self.table.items for key in wanted)


class FakeReconcileState:
    """The cursor is kept on a registered connection's item only (a removed connection is left
    alone); reports under the connection, newest last. ``clock``: for the reports' expiry."""

    def __init__(self, table: MemoryTable | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.table = table if table is not None else MemoryTable()
        self.clock = clock
        self._runs = itertools.count()

    def cursor(self, connection_id: str) -> dict[str, Any] | None:
        self.table.check("cursor")
        value = (self.table.item(keys.connection(connection_id)) or {}).get(CURSOR_ATTRIBUTE)
        return value if isinstance(value, dict) else None

    def save_cursor(self, connection_id: str, cursor: Mapping[str, Any] | None) -> None:
        self.table.check("save_cursor")
        item = self.table.items.get(keys.connection(connection_id))
        if item is None:
            return
        if cursor is None:
            self.table.remove(keys.connection(connection_id), CURSOR_ATTRIBUTE)
        else:
            self.table.update(keys.connection(connection_id), {CURSOR_ATTRIBUTE: dict(cursor)})

    def put_report(self, report: Mapping[str, Any]) -> None:
        self.table.check("put_report")
        started = datetime.fromisoformat(str(report["started_at"]))
        key = keys.report(str(report["connection_id"]), started, f"{next(self._runs):08x}")
        expires_at = int(self.clock()) + REPORT_TTL_DAYS * 86_400
        self.table.put(key, {"type": "reconcile_report", **report, "expires_at": expires_at})

    def reports(self, connection_id: str, *, limit: int = 1) -> list[dict[str, Any]]:
        """The connection's latest ``limit`` reports, newest first."""
        items = reversed(self.table.partition(keys.report_pk(connection_id)))
        return [{k: v for k, v in item.items() if k != "type"} for _, item in items][:limit]
