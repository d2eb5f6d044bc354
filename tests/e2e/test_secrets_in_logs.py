"""No secret in any log line: the whole local flow (OAuth and PAT connect, webhooks, a
forced token refresh, the watchdog, a backfill) with every line of output captured — the
stack's own, every function process's, and the CLI's."""

from __future__ import annotations

import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from calsync_dev import cli
from calsync_dev.cli.bookings import find_bookings
from calsync_dev.cli.send import post_signed, queued
from tests.e2e.conftest import RunningStack, new_stack, wait_for
from tests.factories import event_json, vary

pytestmark = pytest.mark.e2e


def call(url: str, method: str = "GET", payload: Any = None) -> Any:
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
        return json.loads(response.read() or b"{}")


def secret_strings(value: Any) -> set[str]:
    """Every string in a secret's JSON that could be a credential (URIs, kinds and ids are not)."""
    if isinstance(value, dict):
        return {s for v in value.values() for s in secret_strings(v)}
    if isinstance(value, list):
        return {s for v in value for s in secret_strings(v)}
    if isinstance(value, str) and len(value) >= 12 and not value.startswith("http") and value != "local-client-id":
        return {value}
    return set()


def stored_secrets(stack: RunningStack) -> set[str]:
    client = stack.client("secretsmanager")
    found: set[str] = set()
    for page in client.get_paginator("list_secrets").paginate():
        for entry in page["SecretList"]:
            text = client.get_secret_value(SecretId=entry["Name"], VersionStage="AWSCURRENT")["SecretString"]
            try:
                found |= secret_strings(json.loads(text))
            except ValueError:
                found |= secret_strings(text)
    return found


def test_no_token_client_secret_signing_key_or_pkce_verifier_appears_in_any_log_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a stack of its own whose local signing key is a secret too
    stack = new_stack(tmp_path)
    stack.extra_env = {"CALSYNC_LOCAL_SIGNING_KEY": f"whsec-{secrets.token_hex(16)}"}
    stack.start()
    cli_output: list[str] = []
    try:
        target = stack.target(monkeypatch)
        monkeypatch.setenv("CALSYNC_LOCAL_SIGNING_KEY", stack.extra_env["CALSYNC_LOCAL_SIGNING_KEY"])
        api = f"http://127.0.0.1:{stack.api_port}"
        fake = target.calendly_api_url
        # and the fake Calendly issues tokens that are due for refresh at once
        call(f"{fake}/_fake/token-lifetime", "POST", {"expires_in": 600})

        # When an organization connects with OAuth (PKCE) …
        assert cli.main(["connect", "oauth", "--connection-id", "sec"]) == 0
        link = capsys.readouterr().out.strip().splitlines()[-1]
        cli_output.append(link)
        with urllib.request.urlopen(link, timeout=60) as page:  # noqa: S310 - loopback
            assert "Connected" in page.read().decode()
        # … another with a personal access token …
        pat = f"pat-{secrets.token_hex(16)}"
        monkeypatch.setenv("CALENDLY_PAT", pat)
        assert cli.main(["connect", "pat", "--connection-id", "secpat"]) == 0
        assert cli.main(["connections"]) == 0
        # … webhooks arrive for both (signed with the app's key, and the generated key),
        # plus one with a wrong signature …
        app_key = stack.extra_env["CALSYNC_LOCAL_SIGNING_KEY"]
        pat_key = json.loads(
            stack.client("secretsmanager").get_secret_value(
                SecretId=f"{target.signing_key_prefix}secpat", VersionStage="AWSCURRENT"
            )["SecretString"]
        )["current"]
        for connection, key, email in (("sec", app_key, "s1@example.com"), ("secpat", pat_key, "s2@example.com")):
            body = vary("invitee_created.json", email=email)
            assert post_signed(f"{api}/webhooks/calendly/{connection}", body, key)[0] == 202
            assert post_signed(f"{api}/webhooks/calendly/{connection}", body, "not-the-key")[0] == 401
        # … the refresher runs (the OAuth token is due), then the watchdog …
        # (each dispatches one unit per connection to its queue; the job's worker does the work)
        registry = target.connections().registry
        expiry = registry.get("sec").token_expires_at  # type: ignore[union-attr]
        assert call(f"{api}/_local/schedules/TokenRefresherFunction", "POST")["result"]["sent"] >= 1
        wait_for(lambda: registry.get("sec").token_expires_at != expiry, what="sec's token refreshed")  # type: ignore[union-attr]
        assert call(f"{api}/_local/schedules/SubscriptionWatchdogFunction", "POST")["result"]["sent"] >= 1
        wait_for(lambda: registry.get("sec").subscription_healthy_at, what="sec's subscription checked")  # type: ignore[union-attr]
        # … and a backfill re-delivers a booking whose webhook was lost
        payload = event_json("invitee_created.json")["payload"]
        payload["email"] = "s3@example.com"
        payload["uri"] = payload["uri"].replace("INVITEE00000001", "INVITEESECRET001")
        call(f"{fake}/_fake/bookings", "POST", payload)
        assert (
            cli.main(["backfill", "--connection-id", "secpat", "--since", "2026-11-01", "--until", "2026-12-31"]) == 0
        )
        wait_for(lambda: find_bookings(target, email="s3@example.com"), what="the backfilled booking")
        wait_for(lambda: queued(target) == 0, what="the queues to drain")
        # (every secret either side knows, read before the stack stops)
        issued = call(f"{fake}/_fake/secrets")["secrets"]
        known = {v for values in issued.values() for v in values} | stored_secrets(stack) | {pat, app_key, pat_key}
    finally:
        stack.stop()
        stack.kill()
    captured = capsys.readouterr()
    lines = stack.lines + cli_output + captured.out.splitlines() + captured.err.splitlines()
    # Then the flow really handled each kind of secret …
    assert len(issued["access_tokens"]) == len(issued["refresh_tokens"]) == 2  # connect + refresh
    assert len(issued["code_verifiers"]) == 1
    assert issued["signing_keys"] == [pat_key]  # the PAT subscription's generated key
    assert issued["client_secret"] == ["local-client-secret"]
    assert {pat, app_key} <= known
    # … and every part's output was captured (the functions log from their own processes)
    for part in ("ReceiverFunction", "OAuthCallbackFunction", "TokenRefresherFunction", "InviteeCreatedProcessor"):
        assert any(part in line for line in lines), f"no output from {part}"
    assert len(lines) > 20
    # … and none of them appears in any line
    leaks = sorted(
        {line.replace(value, f"<{value[:4]}… redacted>")[:200] for line in lines for value in known if value in line}
    )
    assert leaks == []
