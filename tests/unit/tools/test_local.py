"""The local stack reads its wiring from template.yaml: routes, gateway responses, schedules."""

import json

import pytest

from calsync_dev.functions import format_line
from calsync_dev.local.config import LocalConfig
from calsync_dev.local.gateway import api_routes, gateway_responses
from calsync_dev.local.scheduler import parse_rate
from calsync_dev.template import load


def test_the_webhook_route_comes_from_the_templates_openapi_body() -> None:
    # Given the template
    routes = api_routes(load())
    # Then the webhook route invokes the receiver and requires the signature header,
    # and the OAuth callback route needs nothing (the read API's is IAM-signed in AWS)
    found = {(r.method, r.resource, r.function, r.required_headers) for r in routes}
    assert {
        ("POST", "/webhooks/calendly/{connection_id}", "ReceiverFunction", ("Calendly-Webhook-Signature",)),
        ("GET", "/oauth/callback", "OAuthCallbackFunction", ()),
        ("GET", "/v1/connections/{connection_id}/bookings", "ReadApiFunction", ()),
        ("POST", "/v1/connections/{connection_id}/erasures", "ErasureApiFunction", ()),
        ("GET", "/v1/connections/{connection_id}/erasures/{erasure_id}", "ErasureApiFunction", ()),
        ("POST", "/v1/erasures", "ErasureApiFunction", ()),
        ("GET", "/v1/erasures/{erasure_id}", "ErasureApiFunction", ()),
        ("DELETE", "/v1/connections/{connection_id}", "DisconnectApiFunction", ()),
        ("POST", "/v1/connections", "ConnectApiFunction", ()),
        ("GET", "/v1/connections", "ReadApiFunction", ()),
        ("GET", "/v1/connections/{connection_id}", "ReadApiFunction", ()),
        ("GET", "/v1/connections/{connection_id}/bookings/{invitee_uuid}", "ReadApiFunction", ()),
        ("GET", "/v1/connections/{connection_id}/events/{event_uuid}", "ReadApiFunction", ()),
        ("GET", "/v1/connections/{connection_id}/reports", "ReadApiFunction", ()),
    } <= found
    assert routes[0].resource == "/webhooks/calendly/{connection_id}"
    match = routes[0].pattern.match("/webhooks/calendly/acme")
    assert match is not None
    assert match.groupdict() == {"connection_id": "acme"}
    assert routes[0].pattern.match("/webhooks/calendly/acme/extra") is None


def test_gateway_responses_keep_the_templates_status_and_body() -> None:
    responses = gateway_responses(load())
    assert responses["BAD_REQUEST_PARAMETERS"][0] == 401
    assert '"missing_signature"' in responses["BAD_REQUEST_PARAMETERS"][1]
    assert responses["REQUEST_TOO_LARGE"][0] == 413


@pytest.mark.parametrize(
    ("expression", "seconds"), [("rate(15 minutes)", 900), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)]
)
def test_schedule_rates(expression: str, seconds: int) -> None:
    assert parse_rate(expression) == seconds


def test_a_cron_schedule_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="only rate"):
        parse_rate("cron(0 * * * ? *)")


def test_ports_key_and_state_are_overridable_from_the_environment() -> None:
    config = LocalConfig.from_env(
        {"CALSYNC_API_PORT": "3100", "CALSYNC_EMULATOR_PORT": "5100", "CALSYNC_LOCAL_SIGNING_KEY": "k"}
    )
    assert (config.api_url, config.endpoint_url, config.signing_key) == (
        "http://127.0.0.1:3100",
        "http://127.0.0.1:5100",
        "k",
    )


def test_log_lines_name_the_function_and_keep_the_fields() -> None:
    line = format_line(
        "ReceiverFunction",
        {"level": "INFO", "message": "webhook accepted", "status": 202, "function_arn": "arn:x", "service": "calsync"},
    )
    assert "ReceiverFunction" in line
    assert "INFO" in line
    assert line.endswith("webhook accepted status=202")


def test_saved_state_holds_binary_attributes_as_base64_and_restores_them() -> None:
    # Given an item with a compressed body (Binary), a binary set and binary inside a map
    from calsync_dev.local.state import decode_value, encode_value

    item = {
        "PK": {"S": "DELIVERY#x"},
        "body_z": {"B": b"\x78\x9c\x00\xff"},
        "set": {"BS": [b"\x01", b"\x02"]},
        "nested": {"M": {"b": {"B": b"\x00"}, "l": {"L": [{"B": b"\x03"}, {"N": "1"}]}}},
    }
    # When it is saved as JSON and read back
    saved = json.loads(json.dumps(encode_value(item)))
    # Then it is the same item
    assert decode_value(saved) == item
