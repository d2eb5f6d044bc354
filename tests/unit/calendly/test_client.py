"""CalendlyClient and OAuthClient against scripted transports (httpx.MockTransport: no sockets)."""

from __future__ import annotations

import base64
import json
import logging
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

# isort: split
import calsync
from calsync.calendly.client import CalendlyClient
from calsync.calendly.errors import (
    CalendlyAuthError,
    CalendlyConflict,
    CalendlyError,
    CalendlyNotFound,
    CalendlyPermissionError,
    CalendlyRateLimited,
    CalendlyUnavailable,
    InvalidGrant,
    OAuthError,
    TokenOutcomeUnknown,
    TokenResponseInvalid,
)
from calsync.calendly.http import DEFAULT_TIMEOUT, Retrier
from calsync.calendly.oauth import OAuthClient
from calsync.errors import CalsyncError
from tests.factories import API_FIXTURES

API = "https://api.calendly.com"
ORG = f"{API}/organizations/ORG001"
TOKEN = "tok-ACCESS-0123456789abcdef"
NEW_TOKEN = "tok-REFETCHED-fedcba9876543210"
SIGNING_KEY = "sk-SIGNING-5mEzn9C-I28UtwOjZJtF"
CLIENT_SECRET = "cs-CLIENT-SECRET-0a1b2c3d4e5f"
REFRESH_TOKEN = "rt-REFRESH-TOKEN-9z8y7x6w"
SECRETS = (TOKEN, NEW_TOKEN, SIGNING_KEY, CLIENT_SECRET, REFRESH_TOKEN)

Answer = httpx.Response | Exception


def fixture(name: str) -> Any:
    return json.loads((API_FIXTURES / name).read_text(encoding="utf-8"))


def reply(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    if body is None:
        return httpx.Response(status, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


class Script:
    """A transport answering requests in order (a response or a raised error), recording each request."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        assert self.answers, f"unexpected extra request {request.method} {request.url}"
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def params(self, index: int) -> dict[str, str]:
        return dict(self.requests[index].url.params)


class Sleeps(list[float]):
    """An injected ``sleep`` that records instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_client(sleeps: Sleeps) -> Callable[..., CalendlyClient]:
    def make(script: Script, **kwargs: Any) -> CalendlyClient:
        return CalendlyClient(lambda: TOKEN, transport=script.transport, sleep=sleeps, **kwargs)

    return make


# --- happy paths ------------------------------------------------------------------------------


def test_current_user_is_fetched_with_bearer_auth_and_bounded_timeouts(
    make_client: Callable[..., CalendlyClient],
) -> None:
    # Given Calendly answers /users/me with the koshilife fixture
    script = Script(reply(200, fixture("users_me__koshilife.json")))
    # When the current user is fetched
    user = make_client(script).get_current_user()
    # Then it is parsed, and the request used Bearer auth with connect/read timeouts of 5 s/15 s
    assert user.uri == f"{API}/users/U001"
    assert user.current_organization == ORG
    request = script.requests[0]
    assert (request.method, str(request.url)) == ("GET", f"{API}/users/me")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Accept"] == "application/json"
    assert request.extensions["timeout"]["connect"] == 5.0
    assert request.extensions["timeout"]["read"] == 15.0
    assert (DEFAULT_TIMEOUT.connect, DEFAULT_TIMEOUT.read) == (5.0, 15.0)


@pytest.mark.parametrize(
    ("fetch", "fixture_name", "path"),
    [
        (
            lambda c: c.get_scheduled_event(f"{API}/scheduled_events/GBGBDCAADAEDCRZ2"),
            "scheduled_event_get__calendly_openapi_example.json",
            "/scheduled_events/GBGBDCAADAEDCRZ2",
        ),
        (
            lambda c: c.get_invitee_no_show("NO_SHOW001"),
            "invitee_no_show_get__koshilife.json",
            "/invitee_no_shows/NO_SHOW001",
        ),
        (
            lambda c: c.get_routing_form_submission(f"{API}/routing_form_submissions/SUBMISSION001"),
            "routing_form_submission_get__koshilife.json",
            "/routing_form_submissions/SUBMISSION001",
        ),
        (
            lambda c: c.get_webhook_subscription("USER_WEBHOOK001"),
            "webhook_subscription_get_user_scope__koshilife.json",
            "/webhook_subscriptions/USER_WEBHOOK001",
        ),
    ],
)
def test_single_resources_are_fetched_by_uuid_or_uri(
    make_client: Callable[..., CalendlyClient], fetch: Callable[[CalendlyClient], Any], fixture_name: str, path: str
) -> None:
    # Given Calendly answers with the resource fixture
    body = fixture(fixture_name)
    script = Script(reply(200, body))
    # When it is fetched by UUID or by full URI
    resource = fetch(make_client(script))
    # Then the request went to the resource's path and the resource was parsed
    assert script.requests[0].url.path == path
    assert resource.uri == body["resource"]["uri"]


def test_something_path_like_is_refused_before_any_request(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a client
    script = Script()
    client = make_client(script)
    # When asked for a UUID that would escape its path, or for a URI of another kind of resource
    # Then it refuses without calling Calendly
    for bad in ("../users/me", "EV 1", f"{API}/users/U001", f"{API}/scheduled_events/EV001/invitees/INV001"):
        with pytest.raises(ValueError, match="not a Calendly UUID"):
            client.get_scheduled_event(bad)
    assert script.requests == []


# --- pagination -------------------------------------------------------------------------------

PAGED = [
    (
        lambda c: c.list_event_types(organization=ORG),
        "event_types_list_page1__koshilife.json",
        "event_types_list_page2_last__koshilife.json",
        "/event_types",
    ),
    (
        lambda c: c.list_scheduled_events(organization=ORG, status="active"),
        "scheduled_events_list_page1__koshilife.json",
        "scheduled_events_list_page2_last__koshilife.json",
        "/scheduled_events",
    ),
    (
        lambda c: c.list_event_invitees(f"{API}/scheduled_events/EV201"),
        "scheduled_event_invitees_list_page1__koshilife.json",
        "scheduled_event_invitees_list_page2_last__koshilife.json",
        "/scheduled_events/EV201/invitees",
    ),
    (
        lambda c: c.list_webhook_subscriptions(ORG, "organization"),
        "webhook_subscriptions_list_page1__koshilife.json",
        "webhook_subscriptions_list_page2_last__koshilife.json",
        "/webhook_subscriptions",
    ),
]


@pytest.mark.parametrize(("list_", "first", "last", "path"), PAGED, ids=[row[3] for row in PAGED])
def test_lists_follow_pages_until_the_last(
    make_client: Callable[..., CalendlyClient],
    list_: Callable[[CalendlyClient], Iterator[Any]],
    first: str,
    last: str,
    path: str,
) -> None:
    # Given a two-page koshilife sequence (page 1 carries its token only inside next_page)
    page1, page2 = fixture(first), fixture(last)
    script = Script(reply(200, page1), reply(200, page2))
    # When the list is iterated to the end
    items = list(list_(make_client(script)))
    # Then every item of both pages came back in order, and exactly two requests were made
    assert [item.uri for item in items] == [raw["uri"] for raw in page1["collection"] + page2["collection"]]
    assert [request.url.path for request in script.requests] == [path, path]
    assert script.params(0)["count"] == "100"
    assert "page_token" not in script.params(0)
    assert script.params(1)["page_token"] == "NEXT_PAGE_TOKEN"
    assert script.params(1)["count"] == "100"


def test_lists_follow_next_page_token_and_keep_their_filters(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a first page with next_page_token and a last page with next_page null
    first = fixture("scheduled_events_list__calendly_openapi_example.json")
    last = fixture("scheduled_events_list_page2_last__koshilife.json")
    script = Script(reply(200, first), reply(200, last))
    # When scheduled events in a window are listed
    events = make_client(script).list_scheduled_events(
        user=f"{API}/users/U001",
        min_start_time=datetime(2020, 7, 1, tzinfo=UTC),
        max_start_time="2020-08-01T00:00:00Z",
        status="active",
    )
    uris = [event.uri for event in events]
    # Then both pages were read, the token was passed on, and the filters went with every request
    assert uris == [f"{API}/scheduled_events/GBGBDCAADAEDCRZ2", f"{API}/scheduled_events/EV011"]
    assert script.params(1)["page_token"] == "sNjq4TvMDfUHEl7zHRR0k0E1PCEJWvdi"
    for index in (0, 1):
        assert script.params(index)["user"] == f"{API}/users/U001"
        assert script.params(index)["min_start_time"] == "2020-07-01T00:00:00.000000Z"
        assert script.params(index)["max_start_time"] == "2020-08-01T00:00:00Z"
        assert script.params(index)["status"] == "active"


def test_lists_are_lazy(make_client: Callable[..., CalendlyClient]) -> None:
    # Given two pages
    script = Script(
        reply(200, fixture("event_types_list_page1__koshilife.json")),
        reply(200, fixture("event_types_list_page2_last__koshilife.json")),
    )
    # When only the first item is taken
    first = next(make_client(script).list_event_types(user=f"{API}/users/U001"))
    # Then only the first page was fetched
    assert first.uri == f"{API}/event_types/ET003"
    assert len(script.requests) == 1


def test_a_page_token_that_repeats_stops_with_an_error(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a Calendly that keeps handing back the same page token
    page = fixture("webhook_subscriptions_list__calendlyr.json")
    script = Script(reply(200, page), reply(200, page), reply(200, page))
    # When the list is iterated
    # Then it stops with an error rather than looping forever
    with pytest.raises(CalendlyError, match="Pagination loop"):
        list(make_client(script).list_webhook_subscriptions(ORG, "user", user=f"{API}/users/abc123"))
    assert len(script.requests) == 2


def test_list_arguments_are_checked_before_any_request(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a client
    client = make_client(Script())
    # Then listing without an owner, or a user-scope listing without a user, is refused
    with pytest.raises(ValueError, match="organization or user"):
        client.list_event_types()
    with pytest.raises(ValueError, match="organization or user"):
        client.list_scheduled_events()
    with pytest.raises(ValueError, match="organization or user"):
        client.list_organization_memberships()
    with pytest.raises(ValueError, match="user is required"):
        client.list_webhook_subscriptions(ORG, "user")


# --- rate limits, 5xx and network errors ------------------------------------------------------

USER_ME = "users_me__calendly_openapi_example.json"


def test_429_waits_for_x_ratelimit_reset_then_succeeds(
    make_client: Callable[..., CalendlyClient], sleeps: Sleeps
) -> None:
    # Given Calendly rate-limits once, resetting in 7 seconds
    script = Script(reply(429, headers={"X-RateLimit-Reset": "7"}), reply(200, fixture(USER_ME)))
    # When the current user is fetched
    user = make_client(script).get_current_user()
    # Then the client slept exactly 7 s and the retry succeeded
    assert user.email == "user@example.com"
    assert sleeps == [7.0]
    assert len(script.requests) == 2


def test_429_waits_are_bounded_and_fall_back_to_backoff(
    make_client: Callable[..., CalendlyClient], sleeps: Sleeps
) -> None:
    # Given a reset far in the future, then a 429 without any reset header
    script = Script(
        reply(429, headers={"X-RateLimit-Reset": "3600"}),
        reply(429),
        reply(200, fixture(USER_ME)),
    )
    # When the current user is fetched with a 30 s bound
    make_client(script, max_rate_limit_wait=30.0).get_current_user()
    # Then the first wait is capped at 30 s and the second is a jittered back-off (attempt 1: 0.5-1 s)
    assert sleeps[0] == 30.0
    assert 0.5 <= sleeps[1] <= 1.0


def test_429_outlasting_every_wait_raises_rate_limited(
    make_client: Callable[..., CalendlyClient], sleeps: Sleeps
) -> None:
    # Given Calendly answers 429 to every attempt
    script = Script(*[reply(429, headers={"X-RateLimit-Reset": "2"}) for _ in range(3)])
    # When the current user is fetched with two retries
    with pytest.raises(CalendlyRateLimited) as caught:
        make_client(script, max_retries=2).get_current_user()
    # Then it waited twice, tried three times, and says when to come back
    assert sleeps == [2.0, 2.0]
    assert len(script.requests) == 3
    assert (caught.value.status, caught.value.retry_after) == (429, 2.0)


def test_5xx_is_retried_with_jittered_backoff_then_succeeds(
    make_client: Callable[..., CalendlyClient], sleeps: Sleeps
) -> None:
    # Given two server errors before a success
    script = Script(
        reply(502), reply(503, {"title": "Unavailable", "message": "try later"}), reply(200, fixture(USER_ME))
    )
    # When the current user is fetched
    user = make_client(script).get_current_user()
    # Then it succeeded after two back-offs within [base/2, base] and [base, 2*base] (base 0.5 s)
    assert user.uri == f"{API}/users/AAAAAAAAAAAAAAAA"
    assert len(sleeps) == 2
    assert 0.25 <= sleeps[0] <= 0.5
    assert 0.5 <= sleeps[1] <= 1.0


def test_5xx_exhausting_the_retries_raises_unavailable(
    make_client: Callable[..., CalendlyClient], sleeps: Sleeps
) -> None:
    # Given Calendly answers 500 to every attempt
    script = Script(*[reply(500, {"title": "Internal Server Error", "message": "oops"}) for _ in range(5)])
    # When the current user is fetched with the default 4 retries
    with pytest.raises(CalendlyUnavailable) as caught:
        make_client(script).get_current_user()
    # Then it tried 5 times, slept 4 times, and the error carries Calendly's title and message
    assert len(script.requests) == 5
    assert len(sleeps) == 4
    assert (caught.value.status, caught.value.title, caught.value.message) == (500, "Internal Server Error", "oops")
    assert isinstance(caught.value, CalendlyError)
    assert isinstance(caught.value, CalsyncError)


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    # Given the back-off for many attempts
    delays = [Retrier.backoff(attempt) for attempt in range(12)]
    # Then each lies in [d/2, d] with d = min(8, 0.5 * 2**attempt)
    for attempt, delay in enumerate(delays):
        ceiling = min(8.0, 0.5 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling


def test_network_errors_are_retried_then_succeed(make_client: Callable[..., CalendlyClient], sleeps: Sleeps) -> None:
    # Given a refused connection and a read timeout before a success
    script = Script(httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), reply(200, fixture(USER_ME)))
    # When the current user is fetched
    user = make_client(script).get_current_user()
    # Then it succeeded on the third attempt after two back-offs
    assert user.uri == f"{API}/users/AAAAAAAAAAAAAAAA"
    assert len(script.requests) == 3
    assert len(sleeps) == 2


def test_network_errors_exhausting_the_retries_raise_unavailable(
    make_client: Callable[..., CalendlyClient], sleeps: Sleeps
) -> None:
    # Given the network fails every time
    script = Script(*[httpx.ConnectError("refused") for _ in range(2)])
    # When the current user is fetched with one retry
    with pytest.raises(CalendlyUnavailable) as caught:
        make_client(script, max_retries=1).get_current_user()
    # Then it gave up after two attempts, with no HTTP status
    assert caught.value.status is None
    assert "ConnectError" in str(caught.value)
    assert len(sleeps) == 1


# --- typed errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "fixture_name", "error_type"),
    [
        (404, "error_404_not_found__koshilife.json", CalendlyNotFound),
        (404, "error_404_not_found__calendly_openapi_example.json", CalendlyNotFound),
        (403, "error_403_permission_denied__calendlyr.json", CalendlyPermissionError),
        (403, "error_403_webhook_create_basic_tier__calendly_openapi_example.json", CalendlyPermissionError),
        (409, "error_409_webhook_url_exists__calendly_openapi_example.json", CalendlyConflict),
        (424, "error_424_external_calendar__calendlyr.json", CalendlyError),
    ],
)
def test_client_errors_raise_typed_exceptions_without_retrying(
    make_client: Callable[..., CalendlyClient],
    sleeps: Sleeps,
    status: int,
    fixture_name: str,
    error_type: type[CalendlyError],
) -> None:
    # Given Calendly refuses with one of its documented error bodies
    body = fixture(fixture_name)
    script = Script(reply(status, body))
    # When a webhook subscription is created
    with pytest.raises(error_type) as caught:
        make_client(script).create_webhook_subscription(
            "https://blah.foo/bar", ["invitee.created"], ORG, "organization"
        )
    # Then the exception carries the status, title, message and details, and nothing was retried
    error = caught.value
    assert type(error) is error_type
    assert (error.status, error.title, error.message) == (status, body["title"], body["message"])
    assert len(error.details) == len(body.get("details", []))
    assert body["message"] in str(error)
    assert sleeps == []
    assert len(script.requests) == 1


def test_an_unparsable_error_body_still_raises_the_typed_exception(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a 404 with an HTML body
    script = Script(httpx.Response(404, text="<html>nope</html>"))
    # When a scheduled event is fetched
    with pytest.raises(CalendlyNotFound) as caught:
        make_client(script).get_scheduled_event("EV001")
    # Then the reason phrase stands in for the title
    assert (caught.value.title, caught.value.message) == ("Not Found", "HTTP 404")


def test_an_unexpected_success_body_raises_without_quoting_it(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a 200 whose resource lacks required fields
    script = Script(reply(200, {"resource": {"name": "Jane Private", "email": "jane@private.example"}}))
    # When the current user is fetched
    with pytest.raises(CalendlyError, match="Unexpected response") as caught:
        make_client(script).get_current_user()
    # Then the error names the missing fields but not the payload (personal data)
    assert "uri" in str(caught.value)
    assert "jane@private.example" not in str(caught.value)


def test_401_refetches_the_token_once_and_retries(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a token that was revoked, and a refetch that yields a fresh one
    refetches: list[str] = []

    def refetch() -> str:
        refetches.append(NEW_TOKEN)
        return NEW_TOKEN

    script = Script(reply(401, fixture("error_401_unauthenticated__calendlyr.json")), reply(200, fixture(USER_ME)))
    # When the current user is fetched
    user = make_client(script, on_unauthorized=refetch).get_current_user()
    # Then the token was refetched once and the retry used it
    assert user.uri == f"{API}/users/AAAAAAAAAAAAAAAA"
    assert refetches == [NEW_TOKEN]
    assert [r.headers["Authorization"] for r in script.requests] == [f"Bearer {TOKEN}", f"Bearer {NEW_TOKEN}"]


def test_a_second_401_raises_auth_error_without_another_refetch(make_client: Callable[..., CalendlyClient]) -> None:
    # Given a Calendly that refuses the fresh token as well
    body = fixture("error_401_unauthenticated__calendlyr.json")
    refetches: list[str] = []

    def refetch() -> str:
        refetches.append(NEW_TOKEN)
        return NEW_TOKEN

    script = Script(reply(401, body), reply(401, body))
    client = make_client(script, on_unauthorized=refetch)
    # When the current user is fetched
    with pytest.raises(CalendlyAuthError) as caught:
        client.get_current_user()
    # Then it refetched once, tried twice, and raised with Calendly's message
    assert refetches == [NEW_TOKEN]
    assert len(script.requests) == 2
    assert caught.value.message == "The access token is invalid"


def test_401_without_a_refetcher_raises_at_once(make_client: Callable[..., CalendlyClient]) -> None:
    # Given no way to refetch the token
    script = Script(reply(401, fixture("error_401_unauthenticated__calendlyr.json")))
    # Then a 401 is raised after a single request
    with pytest.raises(CalendlyAuthError):
        make_client(script).get_current_user()
    assert len(script.requests) == 1


# --- webhook subscriptions --------------------------------------------------------------------


def test_create_webhook_subscription_posts_the_documented_body(make_client: Callable[..., CalendlyClient]) -> None:
    # Given Calendly accepts the subscription
    script = Script(reply(201, fixture("webhook_subscriptions_create_response__calendly_openapi_example.json")))
    # When a user-scope subscription with a signing key is created
    subscription = make_client(script).create_webhook_subscription(
        "https://blah.foo/bar",
        ["invitee.created", "invitee.canceled"],
        f"{API}/organizations/AAAAAAAAAAAAAAAA",
        "user",
        user=f"{API}/users/BBBBBBBBBBBBBBBB",
        signing_key=SIGNING_KEY,
    )
    # Then the POST body matches Calendly's documented request, and the response is parsed
    request = script.requests[0]
    expected = fixture("webhook_subscriptions_create_request_user_scope__calendly_openapi_example.json")
    assert (request.method, request.url.path) == ("POST", "/webhook_subscriptions")
    assert json.loads(request.content) == expected | {"signing_key": SIGNING_KEY}
    assert subscription.uri == f"{API}/webhook_subscriptions/AAAAAAAAAAAAAAAA"


def test_create_without_signing_key_or_user_omits_them(make_client: Callable[..., CalendlyClient]) -> None:
    # Given Calendly accepts the subscription
    script = Script(reply(201, fixture("webhook_subscriptions_create_response__calendlyr.json")))
    # When an organization-scope subscription without a key is created
    make_client(script).create_webhook_subscription("https://x.example/hook", ("invitee.created",), ORG, "organization")
    # Then the body has neither user nor signing_key
    assert json.loads(script.requests[0].content) == {
        "url": "https://x.example/hook",
        "events": ["invitee.created"],
        "organization": ORG,
        "scope": "organization",
    }


def test_delete_webhook_subscription(make_client: Callable[..., CalendlyClient]) -> None:
    # Given Calendly deletes with 204 No Content
    script = Script(httpx.Response(204))
    # When a subscription is deleted by URI
    make_client(script).delete_webhook_subscription(f"{API}/webhook_subscriptions/ORG_WEBHOOK001")
    # Then a DELETE went to its path
    assert (script.requests[0].method, script.requests[0].url.path) == (
        "DELETE",
        "/webhook_subscriptions/ORG_WEBHOOK001",
    )


# --- OAuth ------------------------------------------------------------------------------------


@pytest.fixture
def make_oauth(sleeps: Sleeps) -> Callable[[Script], OAuthClient]:
    def make(script: Script) -> OAuthClient:
        return OAuthClient("client-id-1", CLIENT_SECRET, transport=script.transport, sleep=sleeps)

    return make


def test_refresh_posts_the_form_with_basic_auth_and_parses_the_token(
    make_oauth: Callable[[Script], OAuthClient],
) -> None:
    # Given the token endpoint answers with the koshilife refresh response (no organization field)
    script = Script(reply(200, fixture("oauth_token_refresh_response__koshilife.json")))
    # When a refresh token is exchanged
    token = make_oauth(script).refresh(REFRESH_TOKEN)
    # Then the new tokens are parsed
    assert token.access_token.get_secret_value() == "NEW_TOKEN"
    assert token.refresh_token.get_secret_value() == "NEW_REFRESH_TOKEN"
    assert (token.token_type, token.created_at, token.expires_in) == ("Bearer", 1596207600, 7200)
    assert token.owner == f"{API}/users/U001"
    assert token.organization is None
    # And the request was a form POST to auth.calendly.com with HTTP Basic client credentials
    request = script.requests[0]
    assert (request.method, str(request.url)) == ("POST", "https://auth.calendly.com/oauth/token")
    basic = base64.b64encode(f"client-id-1:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(request.content.decode()) == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH_TOKEN]}


def test_exchange_code_sends_the_code_redirect_uri_and_verifier(make_oauth: Callable[[Script], OAuthClient]) -> None:
    # Given the token endpoint issues tokens
    script = Script(reply(200, fixture("oauth_token_refresh_response__koshilife.json")))
    # When an authorization code is exchanged with a PKCE verifier
    make_oauth(script).exchange_code("code-123", "https://app.example/callback", code_verifier="verifier-456")
    # Then the form carries all four fields
    assert parse_qs(script.requests[0].content.decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["code-123"],
        "redirect_uri": ["https://app.example/callback"],
        "code_verifier": ["verifier-456"],
    }


def test_invalid_grant_raises_invalid_grant(make_oauth: Callable[[Script], OAuthClient], sleeps: Sleeps) -> None:
    # Given the refresh token was already used
    body = fixture("oauth_error_400_invalid_grant__koshilife.json")
    script = Script(reply(400, body))
    # When it is refreshed
    with pytest.raises(InvalidGrant) as caught:
        make_oauth(script).refresh(REFRESH_TOKEN)
    # Then InvalidGrant (an OAuthError and a CalendlyError) carries the error and its description, unretried
    assert isinstance(caught.value, OAuthError)
    assert isinstance(caught.value, CalendlyError)
    assert (caught.value.status, caught.value.error) == (400, "invalid_grant")
    assert caught.value.error_description == body["error_description"]
    assert sleeps == []


def test_other_oauth_errors_raise_oauth_error(make_oauth: Callable[[Script], OAuthClient]) -> None:
    # Given the client credentials are wrong
    script = Script(reply(401, {"error": "invalid_client", "error_description": "Client authentication failed"}))
    # When a refresh is attempted
    with pytest.raises(OAuthError) as caught:
        make_oauth(script).refresh(REFRESH_TOKEN)
    # Then it is an OAuthError but not InvalidGrant
    assert not isinstance(caught.value, InvalidGrant)
    assert (caught.value.error, caught.value.error_description) == ("invalid_client", "Client authentication failed")


def test_oauth_refused_connections_and_429_are_retried(
    make_oauth: Callable[[Script], OAuthClient], sleeps: Sleeps
) -> None:
    # Given a refused connection and a 429 before the tokens (neither can have used the grant)
    script = Script(
        httpx.ConnectError("refused"),
        reply(429, {"title": "Too Many Requests", "message": "slow down"}, {"X-RateLimit-Reset": "2"}),
        reply(200, fixture("oauth_token_refresh_response__koshilife.json")),
    )
    # When a refresh is attempted
    token = make_oauth(script).refresh(REFRESH_TOKEN)
    # Then it succeeded on the third attempt, every attempt with client credentials
    assert token.access_token.get_secret_value() == "NEW_TOKEN"
    assert len(sleeps) == 2
    assert all(r.headers["Authorization"].startswith("Basic ") for r in script.requests)


@pytest.mark.parametrize(
    "answer",
    [
        reply(502),
        reply(503),
        reply(500, {"title": "Internal Server Error", "message": "oops"}),
        httpx.ReadTimeout("no answer"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
    ],
    ids=["502", "503", "500", "read-timeout", "dropped"],
)
@pytest.mark.parametrize("grant", ["refresh", "code"])
def test_a_token_request_whose_answer_was_lost_is_never_resent(
    make_oauth: Callable[[Script], OAuthClient], sleeps: Sleeps, answer: Answer, grant: str
) -> None:
    # Given the token request reached Calendly (it may have spent the single-use grant) and no usable answer came
    script = Script(answer)
    client = make_oauth(script)

    def send() -> object:
        if grant == "refresh":
            return client.refresh(REFRESH_TOKEN)
        return client.exchange_code("code-123", "https://app.example/callback", "verifier-456")

    # When a refresh (or a code exchange) is attempted
    with pytest.raises(TokenOutcomeUnknown) as caught:
        send()
    # Then it was sent once, not retried, and the error says the outcome is unknown (a CalendlyUnavailable)
    assert len(script.requests) == 1
    assert sleeps == []
    assert isinstance(caught.value, CalendlyUnavailable)
    assert REFRESH_TOKEN not in repr(caught.value) + str(caught.value)


def test_a_2xx_token_answer_that_is_not_a_token_is_not_retried(
    make_oauth: Callable[[Script], OAuthClient], sleeps: Sleeps
) -> None:
    # Given Calendly answers 200 with a body that is not a token response (the grant is spent)
    script = Script(reply(200, {"unexpected": "body", "refresh_token": REFRESH_TOKEN}))
    # When a refresh is attempted
    with pytest.raises(TokenResponseInvalid) as caught:
        make_oauth(script).refresh(REFRESH_TOKEN)
    # Then it was sent once and the error names no secret
    assert len(script.requests) == 1
    assert sleeps == []
    assert REFRESH_TOKEN not in repr(caught.value) + str(caught.value)


# --- secrets never leak -----------------------------------------------------------------------


@pytest.fixture
def captured_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of calsync.calendly and httpx, however the app configured propagation."""
    loggers = [logging.getLogger(name) for name in ("calsync.calendly", "httpx", "httpcore")]
    saved = [(log, log.level) for log in loggers]
    for log in loggers:
        log.addHandler(caplog.handler)
        log.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        for log, level in saved:
            log.removeHandler(caplog.handler)
            log.setLevel(level)


def _texts(error: BaseException) -> list[str]:
    return [str(error), repr(error), "".join(traceback.format_exception(error))]


def test_tokens_secrets_and_signing_keys_never_reach_errors_or_logs(
    captured_logs: pytest.LogCaptureFixture, sleeps: Sleeps
) -> None:
    # Given Calendly failures of every kind, each echoing back the secrets that request carried
    echo = f"bad signing_key {SIGNING_KEY} for Bearer {TOKEN}"
    script = Script(
        # create: 400 echoing the key and token (title, message and details)
        reply(
            400, {"title": f"Invalid {SIGNING_KEY}", "message": echo, "details": [{"parameter": "x", "message": echo}]}
        ),
        # create: network errors until the retries are spent (the last one quoting the key)
        httpx.ConnectError(f"refused {TOKEN}"),
        httpx.ReadError(f"reset while sending {SIGNING_KEY}"),
        # create: 5xx until the retries are spent
        httpx.ConnectError(f"refused {TOKEN}"),
        reply(500, {"title": "Oops", "message": echo}),
        # get: 401, refetch, 401 again (echoing the old and the new token)
        reply(401, {"title": "Unauthenticated", "message": f"Bearer {TOKEN}"}),
        reply(401, {"title": "Unauthenticated", "message": f"{TOKEN} then {NEW_TOKEN}"}),
        # get: 429 until the waits are spent
        reply(429, {"title": "Too Many Requests", "message": f"Bearer {TOKEN}"}, {"X-RateLimit-Reset": "1"}),
        reply(429, {"title": "Too Many Requests", "message": f"Bearer {TOKEN}"}, {"X-RateLimit-Reset": "1"}),
        # create: 409
        reply(409, {"title": "Already Exists", "message": echo}),
    )
    client = CalendlyClient(
        lambda: TOKEN, on_unauthorized=lambda: NEW_TOKEN, transport=script.transport, sleep=sleeps, max_retries=1
    )
    oauth_script = Script(
        reply(400, {"error": "invalid_grant", "error_description": f"grant {REFRESH_TOKEN} by {CLIENT_SECRET}"}),
        httpx.ConnectError(f"refused {CLIENT_SECRET}"),
        reply(502, {"error": "server_error", "error_description": CLIENT_SECRET}),
        httpx.ConnectError(f"refused {CLIENT_SECRET}"),
        httpx.ConnectError(f"refused {REFRESH_TOKEN}"),
        reply(401, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"}),
    )
    oauth = OAuthClient("client-id-1", CLIENT_SECRET, transport=oauth_script.transport, sleep=sleeps, max_retries=1)
    create = lambda: client.create_webhook_subscription(  # noqa: E731
        "https://x.example/hook", ["invitee.created"], ORG, "organization", signing_key=SIGNING_KEY
    )
    calls: list[Callable[[], object]] = [
        create,
        create,
        create,
        client.get_current_user,
        client.get_current_user,
        create,
        lambda: oauth.refresh(REFRESH_TOKEN),
        lambda: oauth.refresh(REFRESH_TOKEN),
        lambda: oauth.refresh(REFRESH_TOKEN),
        lambda: oauth.refresh(REFRESH_TOKEN),
    ]
    # When each call fails
    texts: list[str] = [repr(client), repr(oauth)]
    for call in calls:
        with pytest.raises(CalendlyError) as caught:
            call()
        texts += _texts(caught.value)
        texts += [str(caught.value.details)]
    records = captured_logs.records
    texts += [record.getMessage() for record in records] + [str(record.__dict__) for record in records]
    # Then every call failed and was logged, the scripts were used up, and no secret appears anywhere
    assert len(records) >= 10
    assert script.answers == []
    assert oauth_script.answers == []
    assert any("[REDACTED]" in text for text in texts)
    for secret in SECRETS:
        leaks = [text for text in texts if secret in text]
        assert leaks == [], f"{secret} leaked"


# --- import cost ------------------------------------------------------------------------------


def test_importing_the_models_or_the_package_does_not_import_httpx() -> None:
    # Given a fresh interpreter
    code = (
        "import sys, calsync.calendly, calsync.calendly.models, calsync.calendly.errors;"
        "assert 'httpx' not in sys.modules, 'httpx imported';"
        "from calsync.calendly.client import CalendlyClient;"
        "assert 'httpx' in sys.modules"
    )
    layer = str(Path(calsync.__file__).resolve().parents[1])
    # When the models and the package are imported, then the client on demand
    result = subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": layer}, capture_output=True, text=True, check=False
    )
    # Then httpx was loaded only for the client
    assert result.returncode == 0, result.stderr


def test_429_says_when_calendly_said_to_come_back_not_how_long_the_client_waited(
    make_client: Callable[..., CalendlyClient], sleeps: Sleeps
) -> None:
    # Given Calendly answers 429 with a reset far beyond the client's wait bound (an API caller is waiting)
    script = Script(*[reply(429, headers={"X-RateLimit-Reset": "40"}) for _ in range(2)])
    # When the call gives up after one short wait
    with pytest.raises(CalendlyRateLimited) as caught:
        make_client(script, max_retries=1, max_rate_limit_wait=2.0).get_current_user()
    # Then it waited at most its bound, and retry_after is Calendly's 40 s (the actions' Retry-After)
    assert sleeps == [2.0]
    assert caught.value.retry_after == 40.0


# --- rate-limit headers (a connection's shared budget learns from them) -----------------------


def test_every_answer_s_rate_limit_headers_reach_the_caller_429s_included(
    make_client: Callable[..., CalendlyClient],
) -> None:
    from calsync.connections.budget import RateHeaders

    # Given Calendly answers 429 (reset in 2 s), then the user with 499 requests left of 500
    limited = {"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"}
    fine = {"x-ratelimit-limit": "500", "x-ratelimit-remaining": "499", "x-ratelimit-reset": "58"}
    script = Script(reply(429, {"title": "Too Many Requests", "message": "slow down"}, limited))
    script.answers.append(reply(200, fixture("users_me__koshilife.json"), fine))
    seen: list[RateHeaders] = []
    # When the current user is fetched with an answer hook
    make_client(script, on_answer=lambda s, h: seen.append(RateHeaders.from_headers(s, h))).get_current_user()
    # Then the hook saw both answers' figures, in order
    assert seen == [RateHeaders(429, 500, 0, 2.0), RateHeaders(200, 500, 499, 58.0)]
