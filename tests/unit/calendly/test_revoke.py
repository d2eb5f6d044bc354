"""OAuthClient.revoke (``POST https://auth.calendly.com/oauth/revoke``) against a scripted transport."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from calsync.calendly.errors import CalendlyUnavailable, OAuthError
from calsync.calendly.oauth import OAuthClient
from tests.unit.calendly.test_client import CLIENT_SECRET, REFRESH_TOKEN, Script, Sleeps, reply


def oauth(script: Script, **options: object) -> OAuthClient:
    return OAuthClient("client-id-1", CLIENT_SECRET, transport=script.transport, sleep=Sleeps(), **options)  # type: ignore[arg-type]


def test_revoke_posts_the_token_with_the_apps_credentials_in_the_form() -> None:
    # Given Calendly's revoke endpoint answers 200
    script = Script(reply(200, {}))
    # When a token is revoked
    oauth(script).revoke(REFRESH_TOKEN)
    # Then one form POST went to /oauth/revoke beside the token endpoint, with client_id, client_secret and token
    [request] = script.requests
    assert (request.method, str(request.url)) == ("POST", "https://auth.calendly.com/oauth/revoke")
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {
        "client_id": ["client-id-1"],
        "client_secret": [CLIENT_SECRET],
        "token": [REFRESH_TOKEN],
    }


def test_the_revoke_url_follows_a_configured_token_url() -> None:
    client = OAuthClient("id", "secret", token_url="http://127.0.0.1:9999/oauth/token")
    assert client.revoke_url == "http://127.0.0.1:9999/oauth/revoke"


def test_a_token_calendly_does_not_know_is_a_400_oauth_error_without_the_secrets() -> None:
    # Given Calendly refuses the token (already revoked) and echoes it back
    body = {"error": "invalid_request", "error_description": f"unknown token {REFRESH_TOKEN}"}
    script = Script(reply(400, body))
    # When it is revoked
    with pytest.raises(OAuthError) as raised:
        oauth(script).revoke(REFRESH_TOKEN)
    # Then the error says 400 invalid_request, and neither the token nor the client secret is in it
    assert (raised.value.status, raised.value.error) == (400, "invalid_request")
    assert REFRESH_TOKEN not in repr(raised.value) + str(raised.value)
    assert CLIENT_SECRET not in repr(raised.value) + str(raised.value)


def test_a_server_error_is_unavailable() -> None:
    script = Script(reply(503))
    with pytest.raises(CalendlyUnavailable):
        oauth(script).revoke(REFRESH_TOKEN)
