"""Completeness on the local stack: the reconciler's schedule fires, a booking only the fake
Calendly knows is stored through the normal queues, and the run leaves a report."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from calsync_dev import cli
from calsync_dev.cli.bookings import find_bookings
from calsync_dev.cli.target import Target
from tests.e2e.conftest import RunningStack, wait_for
from tests.e2e.test_local_connections import run_schedule
from tests.factories import event_json

pytestmark = pytest.mark.e2e


def fake_post(target: Target, path: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{target.calendly_api_url}{path}", data=json.dumps(body).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=30).close()  # noqa: S310


def booking_tomorrow(email: str) -> dict[str, Any]:
    payload: dict[str, Any] = event_json("invitee_created.json")["payload"]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    payload["email"] = email
    payload["uri"] = (
        payload["uri"].replace("DEMOEVENT0000001", "RECONEVENT000001").replace("INVITEE00000001", "RECONINV0001")
    )
    event = payload["scheduled_event"]
    event["uri"] = event["uri"].replace("DEMOEVENT0000001", "RECONEVENT000001")
    event["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    event["end_time"] = (start + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    return payload


def test_the_reconciler_schedule_stores_a_booking_only_calendly_knows_and_reports(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a connected organization, a booking tomorrow whose webhook never came, and a
    # Calendly that answers every fourth request 429
    monkeypatch.setenv("CALENDLY_PAT", "pat-local-reconcile")
    assert cli.main(["connect", "pat", "--connection-id", "recon"]) == 0
    fake_post(target, "/_fake/bookings", booking_tomorrow("reconciled@example.com"))
    # and a routing-form submission made an hour ago whose webhook never came either
    submission = event_json("routing_form_submission_created.json")["payload"]
    made = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    submission.update(uri=f"{submission['uri']}E2E", created_at=made, updated_at=made, submitter=None)
    fake_post(target, "/_fake/submissions", submission)
    fake_post(target, "/_fake/rate-limit", {"every": 4, "reset": 0})
    try:
        # When the reconciler's schedule fires
        result: Any = run_schedule(local_stack, "ReconcilerFunction")
        # Then the run (its unit, worked from the reconcile queue) covered the connection's windows
        assert result["sent"] >= 1
        state = target.reconciling().state
        wait_for(
            lambda: [r for r in state.reports("recon", limit=5) if r["reason"] == "scheduled"], what="recon's report"
        )
    finally:
        fake_post(target, "/_fake/rate-limit", {"every": 0})
    # And the booking and the submission are stored as if their webhooks had arrived
    (booking,) = wait_for(lambda: find_bookings(target, email="reconciled@example.com"), what="the reconciled booking")
    assert booking.status == "active"
    wait_for(
        lambda: [s for s in target.bookings().scan_type("routing_form_submission") if s.uri == submission["uri"]],
        what="the reconciled submission",
    )
    # And the run left a report
    capsys.readouterr()
    assert cli.main(["report", "--connection-id", "recon", "--json"]) == 0
    (report,) = json.loads(capsys.readouterr().out)
    assert report["reason"] == "scheduled"
    assert report["complete"] is True
    assert report["invitees_seen"] >= 1
    assert report["api_calls"] > report["events_seen"]  # the list calls, and the 429s retried
    # And an operator's reconcile now finds nothing left to repair for it
    assert cli.main(["reconcile", "--connection-id", "recon", "--json"]) == 0
    manual = json.loads(capsys.readouterr().out)
    assert manual["reason"] == "manual"
    assert manual["missing"] == 0
