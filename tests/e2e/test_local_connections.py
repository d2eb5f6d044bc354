"""Connecting a Calendly organization on the local stack: the fake Calendly plays Calendly,
the OAuth callback, refresher and watchdog run as the template wires them."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import pytest

from calsync.calendly.limits import INTERACTIVE
from calsync_dev import cli
from calsync_dev.cli.send import post_signed
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from tests.e2e.conftest import RunningStack, wait_for
from tests.factories import vary

pytestmark = pytest.mark.e2e


def run_schedule(stack: RunningStack, function: str) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.api_port}/_local/schedules/{function}", method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        result: dict[str, Any] = json.loads(response.read())["result"]
        return result


def test_oauth_connect_then_webhooks_refresh_and_watchdog_work_locally(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the operator asks for an authorization link
    assert cli.main(["connect", "oauth", "--connection-id", "demo"]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    # When they open it (the fake Calendly approves and redirects to the callback)
    with urllib.request.urlopen(link, timeout=60) as page:  # noqa: S310 - loopback
        # Then the callback page says connected
        assert page.status == 200
        assert "Connected" in page.read().decode()
    # And the connection is listed, active, with a subscription
    assert cli.main(["connections", "--json"]) == 0
    (connection,) = [c for c in json.loads(capsys.readouterr().out) if c["connection_id"] == "demo"]
    assert connection["status"] == "active"
    assert connection["subscription_uri"]
    # And webhooks signed with the app's key are accepted on its URL
    body = vary("invitee_created.json", email="demo@example.com")
    assert (
        post_signed(f"http://127.0.0.1:{local_stack.api_port}/webhooks/calendly/demo", body, DEFAULT_LOCAL_KEY)[0]
        == 202
    )
    # And the scheduled functions see it: the token is fresh (no refresh dispatched), the
    # subscription healthy (its unit checked by the watchdog's worker, from its queue)
    assert run_schedule(local_stack, "TokenRefresherFunction")["sent"] == 0
    assert run_schedule(local_stack, "SubscriptionWatchdogFunction")["sent"] >= 1
    registry = target.connections().registry
    wait_for(lambda: getattr(registry.get("demo"), "subscription_healthy_at", None), what="demo's check")


def test_a_reused_authorization_link_is_refused(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["connect", "oauth", "--connection-id", "twice"]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    with urllib.request.urlopen(link, timeout=60) as page:  # noqa: S310
        assert page.status == 200
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(link, timeout=60)  # noqa: S310
    assert refused.value.code == 400
    assert "already used" in refused.value.read().decode()


def test_a_personal_access_token_connects_with_a_generated_signing_key(
    local_stack: RunningStack, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALENDLY_PAT", "pat-local-e2e")
    assert cli.main(["connect", "pat", "--connection-id", "solo"]) == 0
    # The generated key is in the receiver's secret; a webhook signed with it is accepted
    secret = local_stack.client("secretsmanager").get_secret_value(
        SecretId=f"{target.signing_key_prefix}solo", VersionStage="AWSCURRENT"
    )
    key = json.loads(secret["SecretString"])["current"]
    assert key != DEFAULT_LOCAL_KEY
    url = f"http://127.0.0.1:{local_stack.api_port}/webhooks/calendly/solo"
    body = vary("invitee_created.json", email="solo@example.com")
    assert post_signed(url, body, key)[0] == 202
    assert post_signed(url, body, DEFAULT_LOCAL_KEY)[0] == 401


def test_backfill_redelivers_a_booking_whose_webhook_was_lost(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from calsync_dev.cli.bookings import find_bookings
    from tests.factories import event_json

    # Given a connected organization, and a booking Calendly lists but never delivered
    monkeypatch.setenv("CALENDLY_PAT", "pat-local-backfill")
    assert cli.main(["connect", "pat", "--connection-id", "gap"]) == 0
    payload = event_json("invitee_created.json")["payload"]
    payload["email"] = "lost@example.com"
    payload["uri"] = payload["uri"].replace("INVITEE00000001", "INVITEELOST00001")
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{target.calendly_api_url}/_fake/bookings", data=json.dumps(payload).encode(), method="POST"
    )
    urllib.request.urlopen(request, timeout=30).close()  # noqa: S310
    capsys.readouterr()
    # When the operator backfills the window
    assert cli.main(["backfill", "--connection-id", "gap", "--since", "2026-11-01", "--until", "2026-12-31"]) == 0
    # (an alias of reconcile over the range: it found the booking missing and enqueued its
    # creation; with no no-show mark stored, there is none to remove)
    out = capsys.readouterr().out
    assert "gap" in out
    assert "manual  complete" in out
    assert "events 1, invitees 1, submissions 0: missing 1, stale 0, repaired 1" in out
    # Then the booking is stored as if the webhook had arrived
    (booking,) = wait_for(lambda: find_bookings(target, email="lost@example.com"), what="the backfilled booking")
    assert booking.status == "active"
    assert booking.tenant == "gap"


def test_a_failed_reconnect_leaves_the_working_connection_as_it_was(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a working PAT connection
    monkeypatch.setenv("CALENDLY_PAT", "pat-local-reconnect-1")
    assert cli.main(["connect", "pat", "--connection-id", "again"]) == 0
    services = target.connections()
    key = (services.signing_keys.stored("again") or (None, None))[0]
    assert key is not None
    url = f"http://127.0.0.1:{local_stack.api_port}/webhooks/calendly/again"
    # When the operator connects it again and Calendly answers 503 to every attempt of the
    # subscription call (no more: the next test's connect must find Calendly well)
    attempts = 1 + INTERACTIVE.max_retries
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{target.calendly_api_url}/_fake/faults",
        data=json.dumps({"path": "/webhook_subscriptions", "mode": "unavailable", "times": attempts}).encode(),
        method="POST",
    )
    urllib.request.urlopen(request, timeout=30).close()  # noqa: S310
    capsys.readouterr()
    monkeypatch.setenv("CALENDLY_PAT", "pat-local-reconnect-2")
    assert cli.main(["connect", "pat", "--connection-id", "again"]) == 1
    assert "not connected" in capsys.readouterr().err
    # Then webhooks signed with the old key are still accepted, and the old token is still the one stored
    body = vary("invitee_created.json", email="again@example.com")
    assert post_signed(url, body, key)[0] == 202
    assert services.tokens.get("again").access_token == "pat-local-reconnect-1"
    # And `calsync connections` still lists it active
    assert cli.main(["connections"]) == 0
    (line,) = [row for row in capsys.readouterr().out.splitlines() if row.startswith("again ")]
    assert " active " in line


def test_a_disabled_subscription_is_replaced_and_its_gap_reconcile_requested_locally(
    local_stack: RunningStack, target: Target, monkeypatch: pytest.MonkeyPatch
) -> None:

    # Given a connected organization whose subscription Calendly disabled
    monkeypatch.setenv("CALENDLY_PAT", "pat-local-selfheal")
    assert cli.main(["connect", "pat", "--connection-id", "heal"]) == 0
    url = f"{target.api_base}/webhooks/calendly/heal"
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{target.calendly_api_url}/_fake/subscriptions",
        data=json.dumps({"callback_url": url, "state": "disabled"}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        assert json.loads(answer.read())["changed"] == 1
    # When the watchdog's schedule fires
    assert run_schedule(local_stack, "SubscriptionWatchdogFunction")["sent"] >= 1  # heal's unit, among others
    # Then a reconcile of the gap runs by itself (the request goes through the reconcile-requests
    # queue to the reconciler), and its report says why
    state = target.reconciling().state
    deadline = time.monotonic() + 60
    reports: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not reports:
        reports = [
            r
            for r in state.reports("heal", limit=5)
            if "subscription re-created (was disabled;" in str(r.get("reason", ""))
        ]
        time.sleep(0.5)
    assert reports, "no report of a gap reconcile for 'heal'"
    # And webhooks on the replacement's URL reach the same connection
    services = target.connections()
    key = (services.signing_keys.stored("heal") or (None, None))[0]
    assert key is not None
    body = vary("invitee_created.json", email="heal@example.com")
    replacement = f"http://127.0.0.1:{local_stack.api_port}/webhooks/calendly/heal?subscription=2"
    assert post_signed(replacement, body, key)[0] == 202


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # each hop is looked at, not followed


def _hop(url: str) -> tuple[int, str]:
    """One GET without following redirects: its status and ``Location``."""
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(url, timeout=60) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as answer:
        return answer.code, answer.headers.get("Location", "")


def _approve(link: str) -> tuple[int, str]:
    """The customer approves in (fake) Calendly, which sends the browser to the callback: the
    callback's status and where it sends the browser next."""
    status, callback = _hop(link)
    assert status in (302, 303), status
    return _hop(callback)


def _post_connection(stack: RunningStack, body: bytes) -> tuple[int, dict[str, Any]]:
    """``POST /v1/connections`` signed with SigV4 (the local stack's credentials), as an app would."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"http://127.0.0.1:{stack.api_port}/v1/connections"
    signed = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(signed)
    request = urllib.request.Request(url, data=body, headers=dict(signed.headers), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as answer:
        return answer.code, json.loads(answer.read())


def test_an_apps_connect_button_brings_the_customer_back_to_the_app(local_stack: RunningStack, target: Target) -> None:
    # Given an app on this machine (an origin the local stack's ConnectReturnOrigins allows)
    # starts a connection for its tenant over the signed API
    back = "http://localhost:8000/settings/calendly?tab=1"
    status, started = _post_connection(local_stack, json.dumps({"connection_id": "button", "return_to": back}).encode())
    assert status == 201, started
    assert started["authorize_url"].startswith(f"{target.authorize_url}?")
    # When the customer approves in Calendly
    status, location = _approve(started["authorize_url"])
    # Then the callback sends them back to the app, connected
    assert status == 303
    assert location == f"{back}&connection_id=button&status=connected&reason=connected"
    # And the app cannot start the same, now connected, tenant again; bad input is a 400
    assert _post_connection(local_stack, b'{"connection_id": "button"}')[0] == 409
    status, refused = _post_connection(
        local_stack, json.dumps({"connection_id": "other", "return_to": "https://evil.example/"}).encode()
    )
    assert (status, refused["parameter"]) == (400, "return_to")


def test_the_cli_link_can_return_the_operator_to_a_page_of_theirs(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli.main(["connect", "oauth", "--connection-id", "clireturn", "--return-to", "https://ops.example/done"]) == 0
    )
    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert _approve(link) == (303, "https://ops.example/done?connection_id=clireturn&status=connected&reason=connected")
