"""``POST /v1/connections`` on the stack provisioned from template.yaml: an app's "Connect
Calendly" button gets the OAuth link, the customer comes back to the app's ``return_to`` after
the callback (connected or failed), a connected id is a 409, bad bodies are 400s naming the
parameter, and every AWS request the function makes is one its own role allows."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import respx

from calsync_dev.events import proxy_event
from calsync_dev.fake_calendly import FakeCalendly
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from calsync_dev.provision import Stack
from tests.iam import not_granted, recorded_calls

HOST = "abc123.execute-api.us-east-1.amazonaws.com"
APP = "https://app.example.com"


@pytest.fixture
def fake(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCalendly]:
    env = {**stack.functions["OAuthCallbackFunction"].environment, **stack.functions["ConnectApiFunction"].environment}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # the stack's ConnectReturnOrigins, as an operator deploying with one allowed app sets it
    monkeypatch.setenv("CONNECT_RETURN_ORIGINS", f"{APP},http://localhost:8000")
    fake = FakeCalendly()
    boto3.client("secretsmanager").put_secret_value(
        SecretId=env["OAUTH_APP_SECRET_NAME"],
        SecretString=json.dumps(
            {"client_id": fake.client_id, "client_secret": fake.client_secret, "webhook_signing_key": "app-key"}
        ),
    )
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.calendly.com").mock(side_effect=fake.httpx_handler)
        router.route(host="auth.calendly.com").mock(side_effect=fake.httpx_handler)
        yield fake


@pytest.fixture
def connect_api(stack: Stack, fake: FakeCalendly) -> Any:
    return load_handler(stack.functions["ConnectApiFunction"], apply_environment=False)


@pytest.fixture
def callback(stack: Stack, fake: FakeCalendly) -> Any:
    return load_handler(stack.functions["OAuthCallbackFunction"], apply_environment=False)


def post(body: str | bytes | None, *, base64_encoded: bool = False) -> dict[str, Any]:
    """``POST /v1/connections`` as API Gateway's REST proxy hands it over (signed: IAM let it in)."""
    text = base64.b64encode(body).decode() if isinstance(body, bytes) else body
    return {
        "resource": "/v1/connections",
        "path": "/v1/connections",
        "httpMethod": "POST",
        "headers": {"Host": HOST, "Content-Type": "application/json"},
        "pathParameters": None,
        "queryStringParameters": None,
        "requestContext": {"requestId": "req-connect-1", "domainName": HOST, "stage": "dev"},
        "body": text,
        "isBase64Encoded": base64_encoded,
    }


def callback_event(query: dict[str, str]) -> dict[str, Any]:
    event = proxy_event(
        method="GET",
        resource="/oauth/callback",
        path="/oauth/callback",
        path_parameters=None,
        headers={"Host": HOST, "Accept": "text/html"},
        query={k: [v] for k, v in query.items()},
        body=b"",
        stage="dev",
    )
    event["requestContext"]["domainName"] = HOST
    return event


def start(connect_api: Any, connection_id: str, return_to: str | None = None) -> dict[str, Any]:
    body = {"connection_id": connection_id} | ({"return_to": return_to} if return_to else {})
    response = connect_api(post(json.dumps(body)), LambdaContext("connect-api"))
    return {"status": response["statusCode"], **json.loads(response["body"])}


def test_the_button_flow_returns_the_customer_to_the_app_connected(
    connect_api: Any, callback: Any, fake: FakeCalendly
) -> None:
    # Given an app starts a connection for its tenant, asking to get the customer back
    with recorded_calls() as calls:
        started = start(connect_api, "acme", f"{APP}/settings/calendly?tab=1")
    # Then it gets the OAuth link to this stack's callback, and until when it works
    assert started["status"] == 201, started
    link = urlsplit(started["authorize_url"])
    assert (link.netloc, link.path) == ("auth.calendly.com", "/oauth/authorize")
    query = parse_qs(link.query)
    assert query["redirect_uri"] == [f"https://{HOST}/dev/oauth/callback"]
    assert started["expires_at"].endswith("Z")
    assert not_granted("ConnectApiFunction", calls) == []
    # When the customer approves in Calendly and comes back to the callback
    done = callback(callback_event({"code": fake.issue_code(), "state": query["state"][0]}), LambdaContext("cb"))
    # Then the callback sends them to the app, its own query kept, with the outcome added
    assert done["statusCode"] == 303
    assert done["headers"]["Location"] == (
        f"{APP}/settings/calendly?tab=1&connection_id=acme&status=connected&reason=connected"
    )
    # And the id, now connected, cannot be started again
    again = start(connect_api, "acme")
    assert (again["status"], again["error"]) == (409, "conflict")


def test_a_denied_consent_returns_the_customer_to_the_app_as_failed(
    connect_api: Any, callback: Any, fake: FakeCalendly
) -> None:
    started = start(connect_api, "beta", "http://localhost:8000/back")
    state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
    # When Calendly comes back without consent
    denied = callback(callback_event({"error": "access_denied", "state": state}), LambdaContext("cb"))
    # Then the app hears it failed, and why
    assert denied["statusCode"] == 303
    assert (
        denied["headers"]["Location"]
        == "http://localhost:8000/back?connection_id=beta&status=failed&reason=access_denied"
    )
    # And the state is used up: the link no longer works (a page, as nobody said where to return)
    replay = callback(callback_event({"code": fake.issue_code(), "state": state}), LambdaContext("cb"))
    assert replay["statusCode"] == 400
    assert "expired" in replay["body"]
    assert replay["headers"]["Content-Security-Policy"].startswith("default-src 'none'")


def test_a_failure_after_the_state_was_taken_still_returns_the_customer(
    connect_api: Any, callback: Any, fake: FakeCalendly
) -> None:
    started = start(connect_api, "gamma", f"{APP}/back")
    state = parse_qs(urlsplit(started["authorize_url"]).query)["state"][0]
    # When the code Calendly gave is refused at the token endpoint
    failed = callback(callback_event({"code": "not-a-code-calendly-issued", "state": state}), LambdaContext("cb"))
    assert failed["statusCode"] == 303
    assert failed["headers"]["Location"] == f"{APP}/back?connection_id=gamma&status=failed&reason=calendly_error"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ("not json", "body"),
        ("[]", "body"),
        ('"acme"', "body"),
        ("{}", "connection_id"),
        ('{"connection_id": 7}', "connection_id"),
        ('{"connection_id": null}', "connection_id"),
        ('{"connection_id": "acme", "return_to": 5}', "return_to"),
        ('{"connection_id": "acme", "extra": 1}', "extra"),
        ('{"connection_id": "no spaces"}', "connection_id"),
        ('{"connection_id": "\\ud800"}', "connection_id"),
        ('{"connection_id": "acme", "return_to": "https://evil.example/"}', "return_to"),
        ('{"connection_id": "acme", "return_to": "https://app.example.com/\\u00e9"}', "return_to"),
        ('{"connection_id": "acme", "return_to": "javascript:alert(1)"}', "return_to"),
        ('{"connection_id": "' + "a" * 5000 + '"}', "body"),
        (None, "body"),
    ],
)
def test_a_bad_body_is_a_400_naming_the_parameter_and_stores_nothing(
    connect_api: Any, body: str | None, parameter: str
) -> None:
    with recorded_calls() as calls:
        response = connect_api(post(body), LambdaContext("connect-api"))
    assert response["statusCode"] == 400, response["body"]
    answer = json.loads(response["body"])
    assert (answer["error"], answer["parameter"]) == ("bad_request", parameter)
    assert answer["message"]
    assert "dynamodb:PutItem" not in calls


def test_a_base64_body_is_read_as_api_gateway_hands_it_over(connect_api: Any) -> None:
    response = connect_api(post(b'{"connection_id": "delta"}', base64_encoded=True), LambdaContext("connect-api"))
    assert response["statusCode"] == 201
    bad = connect_api(post(b"\xff\xfe", base64_encoded=True), LambdaContext("connect-api"))
    assert (bad["statusCode"], json.loads(bad["body"])["parameter"]) == (400, "body")
