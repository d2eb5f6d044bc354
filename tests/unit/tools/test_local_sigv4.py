"""The local stack checks SigV4 as API Gateway checks an AWS_IAM method: a request signed with
botocore's SigV4Auth for the local credentials passes; an unsigned, tampered, stale or
foreign-key request gets API Gateway's 403. The clock is injected; times are relative to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync_dev.events import proxy_event
from calsync_dev.local.gateway import api_routes, match_route
from calsync_dev.local.sigv4 import MISMATCH, MISSING_TOKEN, Caller, Refusal, SigV4Verifier, encoded_url
from calsync_dev.template import load

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
REGION = "us-east-1"
URL = "http://127.0.0.1:3000/v1/connections/local/bookings?status=active&limit=20"


def verifier(now: datetime = NOW) -> SigV4Verifier:
    return SigV4Verifier(region=REGION, credentials={"local": ("local", "local")}, clock=lambda: now)


def signed(
    method: str = "GET",
    url: str = URL,
    body: bytes = b"",
    *,
    at: datetime = NOW,
    key: str = "local",
    secret: str = "local",  # noqa: S107 - the local stack's published credentials
    region: str = REGION,
    service: str = "execute-api",
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers botocore's SigV4Auth adds to the request, signed at ``at``."""
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    request.headers["Host"] = "127.0.0.1:3000"
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials(key, secret), service, region).add_auth(request)
    return dict(request.headers.items())


def test_a_request_signed_with_the_local_credentials_passes_and_names_its_caller() -> None:
    # Given a GET signed by botocore for execute-api with the local stack's credentials
    headers = signed()
    # When the local gateway checks it
    caller = verifier().verify("GET", URL, headers, b"")
    # Then it passes, and the identity is what API Gateway gives an IAM user's call
    assert isinstance(caller, Caller)
    identity = caller.identity()
    assert identity["accessKey"] == "local"
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/local"
    assert identity["caller"] == identity["user"]
    assert identity["caller"].startswith("AIDA")


def test_a_signed_post_with_a_body_passes() -> None:
    body = b'{"email": "ada@example.com"}'
    url = "http://127.0.0.1:3000/v1/connections/local/erasures"
    headers = signed("POST", url, body, headers={"Content-Type": "application/json"})
    assert isinstance(verifier().verify("POST", url, headers, body), Caller)


def test_an_unsigned_request_gets_missing_authentication_token() -> None:
    refusal = verifier().verify("GET", URL, {"Host": "127.0.0.1:3000"}, b"")
    assert refusal == Refusal("MissingAuthenticationTokenException", MISSING_TOKEN)
    assert refusal.status == 403


@pytest.mark.parametrize(
    ("what", "method", "url", "body"),
    [
        ("body", "POST", "http://127.0.0.1:3000/v1/connections/local/erasures", b'{"email": "eve@example.com"}'),
        ("path", "GET", "http://127.0.0.1:3000/v1/connections/other/bookings?status=active&limit=20", b""),
        ("query", "GET", "http://127.0.0.1:3000/v1/connections/local/bookings?status=active&limit=100", b""),
        ("method", "DELETE", URL, b""),
    ],
)
def test_a_tampered_request_gets_the_signature_mismatch(what: str, method: str, url: str, body: bytes) -> None:
    # Given a request signed for one thing
    original_url = "http://127.0.0.1:3000/v1/connections/local/erasures" if what == "body" else URL
    original_method = "POST" if what == "body" else "GET"
    headers = signed(original_method, original_url, b'{"email": "ada@example.com"}' if what == "body" else b"")
    # When its {what} is changed on the way
    refusal = verifier().verify(method, url, headers, body)
    # Then API Gateway's mismatch 403 answers, with the canonical request it expected
    assert isinstance(refusal, Refusal)
    assert refusal.error_type == "InvalidSignatureException"
    assert refusal.message.startswith(MISMATCH)


def test_a_changed_signed_header_gets_the_signature_mismatch() -> None:
    headers = signed()
    headers["X-Amz-Date"] = (NOW + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    refusal = verifier().verify("GET", URL, headers, b"")
    assert isinstance(refusal, Refusal)
    assert refusal.message.startswith(MISMATCH)


def test_a_payload_hash_header_that_is_not_the_bodys_hash_is_refused() -> None:
    body = b'{"email": "ada@example.com"}'
    url = "http://127.0.0.1:3000/v1/connections/local/erasures"
    headers = signed("POST", url, body, headers={"X-Amz-Content-SHA256": "0" * 64})
    refusal = verifier().verify("POST", url, headers, body)
    assert isinstance(refusal, Refusal)
    assert refusal.message.startswith(MISMATCH)


def test_a_wrong_secret_gets_the_signature_mismatch() -> None:
    refusal = verifier().verify("GET", URL, signed(secret="not-local"), b"")
    assert isinstance(refusal, Refusal)
    assert refusal.message.startswith(MISMATCH)


def test_an_unknown_access_key_is_refused_as_an_invalid_token() -> None:
    refusal = verifier().verify("GET", URL, signed(key="AKIAEXAMPLE"), b"")
    assert isinstance(refusal, Refusal)
    assert refusal.error_type == "UnrecognizedClientException"
    assert refusal.message == "The security token included in the request is invalid."


@pytest.mark.parametrize("offset", [timedelta(minutes=-5), timedelta(minutes=5), timedelta(seconds=-299)])
def test_a_signature_within_five_minutes_of_the_clock_passes(offset: timedelta) -> None:
    assert isinstance(verifier().verify("GET", URL, signed(at=NOW + offset), b""), Caller)


@pytest.mark.parametrize(
    ("offset", "start"),
    [(timedelta(minutes=-5, seconds=-1), "Signature expired"), (timedelta(minutes=6), "Signature not yet current")],
)
def test_a_signature_more_than_five_minutes_off_is_refused(offset: timedelta, start: str) -> None:
    # Given a request signed 5 min 1 s before (or 6 min after) the gateway's clock
    refusal = verifier().verify("GET", URL, signed(at=NOW + offset), b"")
    # Then API Gateway's expiry 403 answers
    assert isinstance(refusal, Refusal)
    assert refusal.error_type == "InvalidSignatureException"
    assert refusal.message.startswith(start)


def test_a_signature_for_another_region_or_service_is_refused() -> None:
    for headers in (signed(region="eu-west-1"), signed(service="s3")):
        refusal = verifier().verify("GET", URL, headers, b"")
        assert isinstance(refusal, Refusal)
        assert refusal.error_type == "InvalidSignatureException"


def test_an_authorization_header_without_its_parts_is_an_incomplete_signature() -> None:
    refusal = verifier().verify("GET", URL, {"Authorization": "AWS4-HMAC-SHA256 Credential=local/x"}, b"")
    assert isinstance(refusal, Refusal)
    assert refusal.error_type == "IncompleteSignatureException"
    assert "requires 'Signature' parameter" in refusal.message


def test_the_local_gateway_checks_signatures_exactly_where_the_template_says_aws_iam() -> None:
    # Given the template's REST API body
    routes = {(r.method, r.resource): r.iam for r in api_routes(load())}
    # Then the signed /v1 route is checked and Calendly's webhook and the OAuth callback stay open
    assert routes[("GET", "/v1/connections/{connection_id}/bookings")] is True
    assert routes[("POST", "/webhooks/calendly/{connection_id}")] is False
    assert routes[("GET", "/oauth/callback")] is False
    assert all(iam for (_, path), iam in routes.items() if path.startswith("/v1/"))


def test_the_proxy_event_of_a_signed_call_carries_the_callers_identity_as_api_gateway_fills_it() -> None:
    # Given a call that passed the check
    caller = verifier().verify("GET", URL, signed(), b"")
    assert isinstance(caller, Caller)
    # When the gateway builds the function's event with its identity
    event = proxy_event(
        method="GET",
        resource="/v1/connections/{connection_id}/bookings",
        path="/v1/connections/local/bookings",
        path_parameters={"connection_id": "local"},
        headers={"User-Agent": "curl/8"},
        query=None,
        body=b"",
        stage="local",
        identity=caller.identity(),
    )
    # Then requestContext.identity has API Gateway's IAM fields beside the source IP
    identity = event["requestContext"]["identity"]
    assert identity["userArn"] == "arn:aws:iam::123456789012:user/local"
    assert identity["accessKey"] == "local"
    assert identity["accountId"] == event["requestContext"]["accountId"]
    assert identity["sourceIp"] == "127.0.0.1"
    assert identity["userAgent"] == "curl/8"


def test_a_text_body_that_is_not_utf8_reaches_the_function_as_text_not_a_dropped_connection() -> None:
    # Given a signed POST whose JSON body holds bytes that are not UTF-8 (make api-fuzz sent one:
    # the local gateway closed the connection without an answer)
    body = b".\xff\x9dLU'\x1d\x08"
    # When the gateway builds the function's event (a JSON body is text, as API Gateway passes it
    # without binary media types)
    event = proxy_event(
        method="POST",
        resource="/v1/connections",
        path="/v1/connections",
        path_parameters=None,
        headers={"Content-Type": "application/json"},
        query=None,
        body=body,
    )
    # Then the function gets it as text, each undecodable byte a replacement character (its JSON
    # parser then refuses it with a 400)
    assert (event["isBase64Encoded"], event["body"]) == (False, ".\ufffd\ufffdLU'\x1d\x08")


def test_the_query_is_compared_in_sigv4s_encoding_whatever_encoding_it_arrived_in() -> None:
    # Given a query signed in SigV4's encoding (the @ as %40, a space as %20)
    signed_url = "http://127.0.0.1:3000/v1/connections/local/bookings?email=ada%40example.com&status=active"
    headers = signed(url=signed_url)
    # When it arrives with the @ left as it is
    sent = "http://127.0.0.1:3000/v1/connections/local/bookings?email=ada@example.com&status=active"
    # Then it passes, as the service canonicalises the query from what arrived
    assert isinstance(verifier().verify("GET", sent, headers, b""), Caller)


def test_a_query_signed_unencoded_does_not_match_as_on_aws() -> None:
    # Given a client that signs the query as written, with the @ unencoded
    raw = "http://127.0.0.1:3000/v1/connections/local/bookings?email=ada@example.com"
    refusal = verifier().verify("GET", raw, signed(url=raw), b"")
    assert isinstance(refusal, Refusal)
    assert refusal.message.startswith(MISMATCH)


def test_encoded_url_sends_what_is_signed() -> None:
    assert encoded_url("http://h/p?b=a b+c@d&a=%7E") == "http://h/p?b=a%20b%2Bc%40d&a=~"


def _two_methods_template() -> dict[str, object]:
    def operation(function: str) -> dict[str, object]:
        uri = f"arn:aws:apigateway:r:lambda:path/2015-03-31/functions/${{{function}.Arn}}/invocations"
        return {"security": [{"sigv4": []}], "x-amazon-apigateway-integration": {"uri": {"Fn::Sub": uri}}}

    body = {
        "paths": {"/v1/connections/{connection_id}": {"get": operation("ReadFn"), "delete": operation("AdminFn")}},
        "components": {"securitySchemes": {"sigv4": {"x-amazon-apigateway-authtype": "awsSigv4"}}},
    }
    return {"Resources": {"Api": {"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": body}}}}


def test_two_methods_on_one_path_each_reach_their_own_function() -> None:
    # Given GET and DELETE on the same path, routed to two functions
    routes = api_routes(_two_methods_template())
    # When each method is asked for, Then each finds its own route; another method finds none
    get = match_route(routes, "GET", "/v1/connections/acme")
    delete = match_route(routes, "DELETE", "/v1/connections/acme")
    assert get is not None
    assert delete is not None
    assert (get[0].function, get[1]) == ("ReadFn", {"connection_id": "acme"})
    assert delete[0].function == "AdminFn"
    assert match_route(routes, "POST", "/v1/connections/acme") is None
    assert match_route(routes, "GET", "/v1/elsewhere") is None
