"""The connections an application may read (``calsync.read.connections``) over the in-memory
``FakeConnectionsReader``: what a connection shows (never a secret), pages and their cursors,
the query's 400s naming the parameter, and the view equal to the published schema."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from calsync import timefmt
from calsync.connections import gaps
from calsync.connections.records import Connection
from calsync.read.bookings import QueryError
from calsync.read.connections import (
    RETRYING_PREFIX,
    ConnectionsQuery,
    ConnectionView,
    ReportSummaryView,
    SubscriptionView,
    get_connection,
    list_connections,
)
from calsync.reconcile.report import Report, WindowReport
from tests.fakes.read import FakeConnectionsReader

KEY = b"k" * 32
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]
SECRET_WORDS = ("token", "refresh", "key", "secret", "generation")


def _connection(connection_id: str = "acme", **changes: Any) -> Connection:
    base = Connection(
        connection_id=connection_id,
        kind="oauth",
        status="active",
        organization="https://api.calendly.com/organizations/ORG1",
        owner="https://api.calendly.com/users/U1",
        callback_url="https://hooks.example.com/webhooks/acme",
        token_secret="calsync/prod/tokens/acme",
        signing_key_secret="calsync/prod/signing-keys/acme",
        subscription_uri="https://api.calendly.com/webhook_subscriptions/S1",
        token_expires_at=int((NOW + timedelta(hours=2)).timestamp()),
        created_at=timefmt.iso_z(NOW - timedelta(days=3)),
        token_generation="gen-9f8e7d",
    )
    return replace(base, **changes)


def _report(connection_id: str = "acme", *, stopped: str | None = None) -> dict[str, Any]:
    window = WindowReport("upcoming", NOW - timedelta(days=1), NOW + timedelta(days=30), "covered")
    report = Report(connection_id, "scheduled", NOW - timedelta(hours=1), [window])
    report.api_calls = 7
    report.counts["events_seen"] = 12
    report.counts["missing"] = 1
    report.stopped = stopped
    return report.as_dict()


def _list(port: FakeConnectionsReader, **params: object) -> dict[str, Any]:
    return list_connections(port, ConnectionsQuery.parse(params), KEY)


def _shown(port: FakeConnectionsReader, connection_id: str = "acme") -> dict[str, Any]:
    view = get_connection(port, connection_id)
    assert view is not None
    return view.model_dump(mode="json")


def _keys(value: Any) -> list[str]:
    """Every field name in a JSON value, nested ones too."""
    if isinstance(value, dict):
        return [str(k) for k in value] + [name for v in value.values() for name in _keys(v)]
    if isinstance(value, list):
        return [name for v in value for name in _keys(v)]
    return []


def test_a_listed_connection_never_shows_a_secret() -> None:
    # Given a connection whose record names its token and key secrets and its token generation
    port = FakeConnectionsReader()
    port.add(_connection(), _report())
    # When it is listed and read
    listed = _list(port)["connections"][0]
    one = _shown(port)
    # Then no field is named like a secret (but the token's expiry) and no value is one
    for shown in (listed, one):
        names = [k for k in _keys(shown) if k != "token_expires_at"]
        assert not [n for n in names if any(word in n.lower() for word in SECRET_WORDS)]
        text = json.dumps(shown)
        for value in ("calsync/prod/tokens/acme", "calsync/prod/signing-keys/acme", "gen-9f8e7d"):
            assert value not in text
    assert listed == one


def test_an_oauth_connection_shows_its_token_expiry_and_a_pat_none() -> None:
    # Given an OAuth connection and a PAT connection (a personal token does not expire)
    port = FakeConnectionsReader()
    port.add(_connection("acme"))
    port.add(_connection("beta", kind="pat", token_expires_at=None))
    # When they are read
    acme, beta = _shown(port, "acme"), _shown(port, "beta")
    # Then each shows its kind, status, organization and creation; the expiry only for OAuth
    assert acme["kind"] == "oauth"
    assert acme["token_expires_at"] == timefmt.iso_z(NOW + timedelta(hours=2))
    assert beta["kind"] == "pat"
    assert beta["token_expires_at"] is None
    assert acme["status"] == "active"
    assert acme["organization"] == "https://api.calendly.com/organizations/ORG1"
    assert acme["created_at"] == timefmt.iso_z(NOW - timedelta(days=3))


def test_a_connection_needing_reauthorization_shows_why() -> None:
    # Given a connection whose refresh token was refused
    port = FakeConnectionsReader()
    port.add(_connection(status="reauth_required", status_reason="refresh token revoked"))
    # When it is read
    shown = _shown(port)
    # Then its status and reason are shown, and the watchdog skips its subscription
    assert shown["status"] == "reauth_required"
    assert shown["status_reason"] == "refresh token revoked"
    assert shown["subscription"]["state"] == "skipped"


UNRECORDED_EVENTS = {"events": None, "refused_events": [], "missing_scopes": []}


def test_a_subscription_calendly_is_retrying_shows_since_when() -> None:
    # Given the watchdog saw it healthy, then saw Calendly retrying deliveries since 08:00
    retry = NOW - timedelta(hours=1)
    gap = gaps.retrying(retry, timedelta(hours=1))
    record = gap.record(requested_at=NOW, noticed_at=NOW)
    port = FakeConnectionsReader()
    port.add(_connection(subscription_healthy_at=timefmt.iso_z(NOW - timedelta(hours=2)), gap_reconcile=record))
    # When it is read
    subscription = _shown(port)["subscription"]
    # Then it is failing since Calendly's first retry, checked at the last check
    assert subscription == {
        "state": "failing",
        "retry_started_at": timefmt.iso_z(retry),
        "last_checked_at": timefmt.iso_z(NOW),
        **UNRECORDED_EVENTS,
    }
    assert gap.reason.startswith(RETRYING_PREFIX)


def test_a_healthy_subscription_after_a_failure_shows_no_retry() -> None:
    # Given Calendly retried earlier, and the watchdog later saw the subscription healthy again
    record = gaps.retrying(NOW - timedelta(hours=5), timedelta(hours=1)).record(
        requested_at=NOW - timedelta(hours=4), noticed_at=NOW - timedelta(hours=4)
    )
    port = FakeConnectionsReader()
    port.add(_connection(subscription_healthy_at=timefmt.iso_z(NOW), gap_reconcile=record))
    # When it is read
    subscription = _shown(port)["subscription"]
    # Then it is healthy, with no retry shown
    assert subscription == {
        "state": "healthy",
        "retry_started_at": None,
        "last_checked_at": timefmt.iso_z(NOW),
        **UNRECORDED_EVENTS,
    }


def test_a_connection_never_checked_has_no_subscription_state() -> None:
    port = FakeConnectionsReader()
    port.add(_connection())
    assert _shown(port)["subscription"] == {
        "state": None,
        "retry_started_at": None,
        "last_checked_at": None,
        **UNRECORDED_EVENTS,
    }


def test_the_subscriptions_events_and_what_calendly_refused_are_shown() -> None:
    # Given a Free-plan connection whose token lacks contacts:read: Calendly refused the recaps
    events = ["invitee.created", "invitee.canceled", "event_type.updated"]
    refused = ["meeting_recap.created", "meeting_recap.updated", "meeting_recap.deleted"]
    record = {"events": events, "refused_events": refused, "missing_scopes": ["contacts:read"], "at": "x"}
    port = FakeConnectionsReader()
    port.add(_connection(subscription_events=record))
    # When it is read
    subscription = _shown(port)["subscription"]
    # Then the events it has, those refused and the missing scope are shown (and nothing else of the record)
    assert (subscription["events"], subscription["refused_events"]) == (events, refused)
    assert subscription["missing_scopes"] == ["contacts:read"]
    assert "at" not in subscription


def test_the_latest_completeness_report_is_summarised() -> None:
    # Given two reports of acme, the newest one stopped early
    port = FakeConnectionsReader()
    port.add(_connection(), _report(), _report(stopped="budget"))
    # When acme is read
    latest = _shown(port)["latest_report"]
    # Then the newest report's summary is shown
    assert latest["started_at"] == timefmt.iso_z(NOW - timedelta(hours=1))
    assert latest["reason"] == "scheduled"
    assert latest["complete"] is False
    assert latest["stopped"] == "budget"
    assert latest["api_calls"] == 7
    assert latest["counts"]["events_seen"] == 12
    assert latest["counts"]["missing"] == 1


def test_no_report_yet_shows_null() -> None:
    port = FakeConnectionsReader()
    port.add(_connection())
    assert _shown(port)["latest_report"] is None


def test_an_unknown_connection_is_none() -> None:
    assert get_connection(FakeConnectionsReader(), "nobody") is None


def test_pages_of_fifty_then_the_rest_then_no_cursor() -> None:
    # Given 120 connections
    port = FakeConnectionsReader()
    for n in range(120):
        port.add(_connection(f"c{n:03d}"))
    # When they are listed with the default limit, following next_cursor
    first = _list(port)
    second = _list(port, cursor=first["next_cursor"])
    third = _list(port, cursor=second["next_cursor"])
    # Then pages of 50, 50, 20 by id, each connection once, and no cursor after the last
    assert [len(p["connections"]) for p in (first, second, third)] == [50, 50, 20]
    ids = [c["connection_id"] for p in (first, second, third) for c in p["connections"]]
    assert ids == [f"c{n:03d}" for n in range(120)]
    assert third["next_cursor"] is None
    # and a cursor carries the last id shown, never a table key
    payload = first["next_cursor"].split(".")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert "c049" in decoded
    assert "CONNECTION" not in decoded


def test_a_tampered_cursor_is_refused() -> None:
    # Given a cursor from a first page
    port = FakeConnectionsReader()
    for n in range(3):
        port.add(_connection(f"c{n}"))
    issued = _list(port, limit=1)["next_cursor"]
    payload, tag = issued.split(".")
    tampered = f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{tag}"
    # When it is edited, or signed with another key
    for bad in (tampered, "not-a-cursor", list_connections(port, ConnectionsQuery(limit=1), b"x" * 32)["next_cursor"]):
        # Then the list is refused naming the cursor
        with pytest.raises(QueryError) as raised:
            _list(port, cursor=bad)
        assert raised.value.parameter == "cursor"


@pytest.mark.parametrize("limit", [0, 101, -1, "abc", 1.5, True])
def test_a_limit_out_of_range_is_refused(limit: object) -> None:
    with pytest.raises(QueryError) as raised:
        ConnectionsQuery.parse({"limit": limit})
    assert raised.value.parameter == "limit"


def test_the_view_equals_the_published_connection_schema() -> None:
    # Given the model the use cases return and the schema the document publishes
    spec = yaml.safe_load((ROOT / "openapi" / "calsync-v1.yaml").read_text())
    schemas = spec["components"]["schemas"]
    # Then they name the same fields
    assert set(schemas["Connection"]["properties"]) == set(ConnectionView.model_fields)
    assert set(schemas["Subscription"]["properties"]) == set(SubscriptionView.model_fields)
    assert set(schemas["ReportSummary"]["properties"]) == set(ReportSummaryView.model_fields)
    # and every required field is in each view
    port = FakeConnectionsReader()
    port.add(_connection(), _report())
    shown = _shown(port)
    assert set(schemas["Connection"]["required"]) <= set(shown)
    assert set(schemas["ReportSummary"]["required"]) <= set(shown["latest_report"])
    assert set(schemas["Subscription"]["properties"]["state"]["enum"]) - {None} == {
        "healthy",
        "failing",
        "recreated",
        "skipped",
        "error",
        "deferred",
    }
