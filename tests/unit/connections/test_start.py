"""Starting a connection (``begin_oauth``: what ``calsync connect oauth`` and ``POST
/v1/connections`` both call): the link, until when it works, where the customer returns, and
what is refused before anything is stored."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from calsync.connections.connect import STATE_TTL_SECONDS, ConnectError, StartedAuthorization, begin_oauth
from calsync.connections.return_to import ReturnToRefused, check_return_to, parse_origins, redirect_url
from tests.fakes.connections import FakeAppSecret, FakeRegistry

NOW = 1_800_000_000
APP = {"client_id": "cid", "client_secret": "csecret", "webhook_signing_key": "wkey"}
REDIRECT = "https://api.example.com/Prod/oauth/callback"
ALLOWED = parse_origins("https://app.example.com, http://localhost:8000")


def start(registry: FakeRegistry, connection_id: str = "acme", **options: object) -> StartedAuthorization:
    return begin_oauth(
        registry,
        FakeAppSecret(APP),
        connection_id=connection_id,
        redirect_uri=REDIRECT,
        now=NOW,
        **options,  # type: ignore[arg-type]
    )


def test_the_link_expires_with_its_state_and_the_state_keeps_return_to() -> None:
    # Given an app allowed to receive customers back
    registry = FakeRegistry()
    # When it starts a connection with a return_to
    started = start(registry, return_to="https://app.example.com/settings?tab=calendly", return_origins=ALLOWED)
    # Then the link is Calendly's, valid 10 minutes
    assert started.expires_at == NOW + STATE_TTL_SECONDS
    query = parse_qs(urlsplit(started.authorize_url).query)
    assert query["redirect_uri"] == [REDIRECT]
    # And the callback will find where to send the customer, stored with the state
    pending = registry.take_pending(query["state"][0], now=NOW)
    assert pending is not None
    assert (pending.connection_id, pending.return_to) == ("acme", "https://app.example.com/settings?tab=calendly")


@pytest.mark.parametrize(
    "return_to",
    [
        "https://evil.example.com/",  # origin not allowed
        "https://app.example.com.evil.example/",  # a look-alike host
        "https://app.example.com@evil.example/",  # user info
        "http://app.example.com/",  # http off this machine
        "https://app.example.com:8443/",  # another port is another origin
        "//app.example.com/x",  # not absolute
        "/settings",
        "javascript:alert(1)",
        "https://app.example.com/\u202eboom",  # odd Unicode
        "https://app.example.com/ a",
        "https://app.example.com\\@evil.example/",
        "https://app.example.com/" + "a" * 2100,
        "",
        "https://app.example.com:99999/",
    ],
)
def test_a_return_to_outside_the_allow_list_is_a_400_naming_it_and_stores_nothing(return_to: str) -> None:
    registry = FakeRegistry()
    with pytest.raises(ConnectError) as refused:
        start(registry, return_to=return_to, return_origins=ALLOWED)
    assert (refused.value.status, refused.value.parameter) == (400, "return_to")
    assert not registry.table.items


def test_an_empty_allow_list_allows_no_return_to_and_the_cli_any_https_one() -> None:
    with pytest.raises(ConnectError):
        start(FakeRegistry(), return_to="https://app.example.com/", return_origins=parse_origins(""))
    # the operator's CLI passes no allow-list: any absolute https URL (still no http off loopback)
    assert start(FakeRegistry(), return_to="https://anywhere.example/", return_origins=None).authorize_url
    with pytest.raises(ConnectError):
        start(FakeRegistry(), return_to="http://anywhere.example/", return_origins=None)


@pytest.mark.parametrize("connection_id", ["", "-lead", "a" * 65, "acme\n", "ac me", "acmé", "a/b"])
def test_a_bad_connection_id_is_a_400_naming_it(connection_id: str) -> None:
    registry = FakeRegistry()
    with pytest.raises(ConnectError) as refused:
        start(registry, connection_id=connection_id)
    assert (refused.value.status, refused.value.parameter) == (400, "connection_id")
    assert not registry.table.items


def test_an_active_connection_is_a_409_and_a_removed_or_reauth_one_connects_again() -> None:
    statuses = {"acme": "active", "gone": "removed", "stale": "reauth_required"}
    with pytest.raises(ConnectError) as refused:
        start(FakeRegistry(), "acme", status_of=statuses.get)
    assert (refused.value.status, refused.value.reason) == (409, "already_connected")
    for reconnectable in ("gone", "stale", "new"):
        assert start(FakeRegistry(), reconnectable, status_of=statuses.get).authorize_url


def test_the_redirect_keeps_return_to_s_own_query_and_fragment() -> None:
    url = redirect_url("https://app.example.com/done?tab=cal#top", connection_id="acme", status="failed", reason="x y")
    assert url == "https://app.example.com/done?tab=cal&connection_id=acme&status=failed&reason=x+y#top"
    assert redirect_url("http://localhost:8000", connection_id="a", status="connected", reason="connected") == (
        "http://localhost:8000?connection_id=a&status=connected&reason=connected"
    )


def test_origins_compare_case_insensitively_with_default_ports() -> None:
    allowed = parse_origins("HTTPS://App.Example.com:443/, not a url, http://[::1]:9000")
    assert allowed == {"https://app.example.com", "http://[::1]:9000"}
    assert check_return_to("https://APP.example.com/x", allowed)
    assert check_return_to("http://[::1]:9000/x", allowed)
    with pytest.raises(ReturnToRefused):
        check_return_to("http://[::1]:9001/x", allowed)
