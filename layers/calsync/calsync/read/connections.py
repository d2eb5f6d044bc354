"""The connections an application may see: the list and one connection, each as the API shows
it (``ConnectionView``, the OpenAPI ``Connection`` schema), the port a store implements and the
use cases a route (or ``calsync mcp``) calls. Never a token, a key, a secret's name or a token
generation: the view is built field by field from what is safe to show.

The subscription's state is what the watchdog left on the record: the latest of its traces
(seen healthy, a failed check, a re-creation, a gap reconcile asked for because Calendly is
retrying) names the state, and its time is ``last_checked_at``. A connection not active is
``skipped``; one never checked has ``state`` null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from calsync import timefmt
from calsync.connections.records import Connection
from calsync.read import cursor
from calsync.read.bookings import MAX_CURSOR, PageQuery, QueryError
from calsync.read.cursor import BadCursor, Position
from calsync.reconcile.report import COUNTS

# A connections cursor is bound to no connection and to this scope: a bookings cursor (bound to
# one connection) is never accepted here, nor the other way round.
_SCOPE = ""
_FILTERS: dict[str, str | None] = {"list": "connections"}
# The reason ``gaps.retrying`` records, up to the time Calendly started retrying (a unit test
# keeps the two equal).
RETRYING_PREFIX = "Calendly retrying deliveries since "


class ConnectionsQuery(PageQuery):
    """``GET /v1/connections``'s query parameters, validated."""

    cursor: Annotated[str | None, Field(max_length=MAX_CURSOR)] = None


class SubscriptionView(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: Literal["healthy", "failing", "recreated", "skipped", "error", "deferred"] | None
    retry_started_at: str | None
    last_checked_at: str | None
    # What the connection subscribes to (``connections.events``): null when not recorded yet
    # (connected before calsync kept it); the events Calendly refused (403: the plan); the
    # scopes the token lacks for the others.
    events: list[str] | None = None
    refused_events: list[str] = []
    missing_scopes: list[str] = []


class ReportSummaryView(BaseModel):
    model_config = ConfigDict(frozen=True)

    started_at: str
    reason: str
    complete: bool
    stopped: str | None
    api_calls: int
    counts: dict[str, int]


class ConnectionView(BaseModel):
    """One connection as the API shows it (the OpenAPI ``Connection`` schema; a test keeps them equal)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    kind: Literal["oauth", "pat"]
    status: Literal["active", "reauth_required", "removed"]
    status_reason: str | None
    organization: str
    created_at: str | None
    token_expires_at: str | None
    subscription: SubscriptionView
    latest_report: ReportSummaryView | None

    @classmethod
    def build(cls, connection: Connection, report: Mapping[str, Any] | None) -> ConnectionView:
        return cls(
            connection_id=connection.connection_id,
            kind=connection.kind,
            status=connection.status,
            status_reason=connection.status_reason,
            organization=connection.organization,
            created_at=_iso(connection.created_at),
            token_expires_at=(
                timefmt.iso_z(timefmt.from_epoch(connection.token_expires_at))
                if connection.token_expires_at is not None
                else None
            ),
            subscription=subscription(connection),
            latest_report=summary(report) if report else None,
        )


def _iso(text: object) -> str | None:
    """A stored time as ``…Z``; ``None`` for none or one that does not parse."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return timefmt.iso_z(timefmt.parse(text))
    except ValueError:
        return None


def subscription(connection: Connection) -> SubscriptionView:
    """The watchdog's last verdict, from its latest trace on the record."""
    traces: list[tuple[datetime, str]] = []

    def trace(at: object, state: str) -> None:
        iso = _iso(at)
        if iso is not None:
            traces.append((timefmt.parse(iso), state))

    trace(connection.subscription_healthy_at, "healthy")
    trace((connection.last_check_error or {}).get("at"), "error")
    if connection.subscription_recreated:
        latest_recreated = connection.subscription_recreated[-1]
        # one replaced only to add events (``watchdog.Health.WIDENED``) was delivering all along
        widened = latest_recreated.get("was") == "lacking_events"
        trace(latest_recreated.get("recreated_at"), "healthy" if widened else "recreated")
    gap = connection.gap_reconcile or {}
    reason = str(gap.get("reason") or "")
    retry_started_at = _iso(reason.removeprefix(RETRYING_PREFIX)) if reason.startswith(RETRYING_PREFIX) else None
    if retry_started_at is not None:
        trace(gap.get("noticed_at"), "failing")
    latest = max(traces, default=None)
    state = latest[1] if latest else None
    if connection.status != "active":
        state = "skipped"
    return SubscriptionView.model_validate(
        {
            "state": state,
            "retry_started_at": retry_started_at if state == "failing" else None,
            "last_checked_at": timefmt.iso_z(latest[0]) if latest else None,
            **_events(connection.subscription_events),
        }
    )


def _events(record: Mapping[str, Any] | None) -> dict[str, Any]:
    """The subscription's events as recorded (names only: lists of strings, nothing else)."""
    if not record:
        return {}

    def names(key: str) -> list[str]:
        value = record.get(key)
        return [str(v) for v in value] if isinstance(value, list) else []

    return {
        "events": names("events"),
        "refused_events": names("refused_events"),
        "missing_scopes": names("missing_scopes"),
    }


def summary(report: Mapping[str, Any]) -> ReportSummaryView:
    """A stored completeness report's summary (``reconcile.report.Report.as_dict``'s fields)."""
    return ReportSummaryView(
        started_at=_iso(report.get("started_at")) or "",
        reason=str(report.get("reason", "")),
        complete=bool(report.get("complete", False)),
        stopped=str(report["stopped"]) if report.get("stopped") is not None else None,
        api_calls=int(report.get("api_calls") or 0),
        counts={name: int(report[name]) for name in COUNTS if isinstance(report.get(name), int)},
    )


class ConnectionsReader(Protocol):
    """Every registered connection ordered by id, and each one's latest completeness report."""

    def page(self, *, after: str | None, limit: int) -> tuple[Sequence[Connection], bool]:
        """At most ``limit`` connections whose id sorts after ``after``, and whether more follow."""
        ...

    def get(self, connection_id: str) -> Connection | None: ...

    def latest_report(self, connection_id: str) -> Mapping[str, Any] | None:
        """The connection's newest completeness report (``Report.as_dict``), ``None`` before the first."""
        ...


def list_connections(port: ConnectionsReader, query: ConnectionsQuery, key: bytes) -> dict[str, Any]:
    """``{"connections": [...], "next_cursor": str | None}``; ``QueryError("cursor")`` for a
    cursor this service did not issue for this list."""
    after = None
    if query.cursor is not None:
        try:
            after = cursor.decode(query.cursor, key=key, connection_id=_SCOPE, filters=_FILTERS).start_time
        except BadCursor as exc:
            raise QueryError("cursor", exc.reason) from None
    found, more = port.page(after=after, limit=query.limit)
    views = [ConnectionView.build(c, port.latest_report(c.connection_id)) for c in found]
    next_cursor = None
    if more and found:
        last = Position(found[-1].connection_id, "", "")
        next_cursor = cursor.encode(last, key=key, connection_id=_SCOPE, filters=_FILTERS)
    return {"connections": [v.model_dump(mode="json") for v in views], "next_cursor": next_cursor}


def get_connection(port: ConnectionsReader, connection_id: str) -> ConnectionView | None:
    """The connection, or ``None`` (the route answers 404)."""
    connection = port.get(connection_id)
    if connection is None:
        return None
    return ConnectionView.build(connection, port.latest_report(connection_id))
