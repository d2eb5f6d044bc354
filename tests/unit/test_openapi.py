"""The /v1 contract (openapi/calsync-v1.yaml) stays whole and true to the code: every route the
issue names with its methods, every reference resolving, every operation named and answering
400 (when it takes input) and API Gateway's 403, one page size rule, and BookingView's schema
equal to the pydantic model the read use case returns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from calsync.read.bookings import DEFAULT_LIMIT, MAX_LIMIT, BookingView

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "calsync-v1.yaml"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

# issue 18's routes, exactly as it names them
ROUTES: dict[str, set[str]] = {
    "/v1/connections": {"get", "post"},
    "/v1/connections/{connection_id}": {"get", "delete"},
    "/v1/connections/{connection_id}/bookings": {"get", "post"},
    "/v1/connections/{connection_id}/bookings/{invitee_uuid}": {"get"},
    "/v1/connections/{connection_id}/bookings/{invitee_uuid}/cancel": {"post"},  # issue 21: actions
    "/v1/connections/{connection_id}/bookings/{invitee_uuid}/no-show": {"post", "delete"},
    "/v1/connections/{connection_id}/events/{event_uuid}": {"get"},
    "/v1/connections/{connection_id}/reports": {"get"},
    "/v1/connections/{connection_id}/contacts": {"get"},  # issue 21
    "/v1/connections/{connection_id}/erasures": {"post"},
    "/v1/connections/{connection_id}/erasures/{erasure_id}": {"get"},
    "/v1/erasures": {"post"},
    "/v1/erasures/{erasure_id}": {"get"},
}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded = yaml.safe_load(DOCUMENT.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references: {ref}"
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict), f"{ref} does not resolve"
        assert part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _deref(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        node = _resolve(spec, node["$ref"])
    return node


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], list[dict[str, Any]]]]:
    """Each operation with its parameters (the path's and its own), dereferenced."""
    for path, item in spec["paths"].items():
        shared = [_deref(spec, p) for p in item.get("parameters", [])]
        for method, operation in item.items():
            if method in METHODS:
                own = [_deref(spec, p) for p in operation.get("parameters", [])]
                yield path, method, operation, shared + own


def test_the_document_is_openapi_3_1(spec: dict[str, Any]) -> None:
    # Given the contract as committed / Then it is an OpenAPI 3.1 document
    assert str(spec["openapi"]).startswith("3.1.")
    assert spec["info"]["title"]
    assert spec["info"]["version"]


def test_it_validates_against_the_openapi_3_1_schema(spec: dict[str, Any]) -> None:
    # Given the validator the dev environment already has (none is added for this)
    validator = pytest.importorskip("openapi_spec_validator")
    # When the document is checked against OpenAPI 3.1's own schema / Then it passes
    validator.validate(spec, cls=validator.OpenAPIV31SpecValidator)


def test_every_route_of_the_issue_is_there_with_its_methods(spec: dict[str, Any]) -> None:
    # Given the document's paths / Then they are exactly the issue's routes and methods
    found = {path: {m for m in item if m in METHODS} for path, item in spec["paths"].items()}
    assert found == ROUTES


def test_every_reference_resolves(spec: dict[str, Any]) -> None:
    refs = set(_refs(spec))
    assert refs, "the document uses components"
    for ref in refs:
        _resolve(spec, ref)


def test_every_operation_is_named_signed_and_answers_its_errors(spec: dict[str, Any]) -> None:
    names = []
    for path, method, operation, parameters in _operations(spec):
        where = f"{method.upper()} {path}"
        # Then it has an operationId, unique
        assert operation.get("operationId"), where
        names.append(operation["operationId"])
        responses = operation["responses"]
        # and API Gateway's 403 for unsigned or unauthorized calls
        assert "403" in responses, where
        # and a 400 naming the parameter when it takes input
        if parameters or "requestBody" in operation:
            assert "400" in responses, where
            error = _deref(spec, _deref(spec, responses["400"])["content"]["application/json"]["schema"])
            assert {"error", "message", "parameter"} <= set(error["properties"]), where
            assert set(error["required"]) == {"error", "message"}, where
        # and a 404 wherever it names an id in its path
        if any(p["in"] == "path" for p in parameters):
            assert "404" in responses, where
        # and only success codes the issue gives, with a JSON body
        successes = {code for code in responses if code.startswith("2")}
        assert successes, where
        assert successes <= {"200", "201", "202"}, where
        for code in successes:
            assert "application/json" in _deref(spec, responses[code])["content"], where
    assert len(names) == len(set(names))


def test_every_call_is_signed_with_sigv4(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["sigv4"]
    # Then the scheme is the one API Gateway documents for IAM authorization
    assert scheme["type"] == "apiKey"
    assert scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    assert scheme["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert spec["security"] == [{"sigv4": []}]
    for _, _, operation, _ in _operations(spec):
        assert operation.get("security", spec["security"]) == [{"sigv4": []}]


def test_limit_is_1_to_100_with_50_by_default_everywhere(spec: dict[str, Any]) -> None:
    limits = [p for _, _, _, params in _operations(spec) for p in params if p["name"] == "limit"]
    assert len(limits) >= 3  # connections, bookings, reports
    for limit in limits:
        assert limit["in"] == "query"
        assert not limit.get("required", False)
        schema = limit["schema"]
        assert (schema["type"], schema["minimum"], schema["maximum"]) == ("integer", 1, MAX_LIMIT)
        assert schema["default"] == DEFAULT_LIMIT == 50


def test_no_email_in_a_path(spec: dict[str, Any]) -> None:
    # Emails only in query strings and bodies, which the access log does not record
    for path, _, _, parameters in _operations(spec):
        assert "email" not in path
        # (the one header parameter is the actions' Idempotency-Key)
        assert all(p["in"] in {"query", "path"} or p["name"] == "Idempotency-Key" for p in parameters)
        assert not [p for p in parameters if p["name"] == "email" and p["in"] != "query"]


def test_the_bookings_route_takes_the_issues_parameters(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/v1/connections/{connection_id}/bookings"]["get"]
    params = {p["name"]: p for p in (_deref(spec, p) for p in operation["parameters"])}
    assert set(params) == {"start_after", "start_before", "status", "email", "limit", "cursor"}
    assert params["status"]["schema"]["enum"] == ["active", "canceled"]
    page = _deref(spec, operation["responses"]["200"]["content"]["application/json"]["schema"])
    assert set(page["required"]) == {"bookings", "next_cursor"}
    assert _deref(spec, page["properties"]["bookings"]["items"]) is spec["components"]["schemas"]["BookingView"]


def _types(schema: dict[str, Any]) -> set[str]:
    """The JSON types a (pydantic or hand-written) property schema allows."""
    if "anyOf" in schema:
        return set().union(*(_types(s) for s in schema["anyOf"]))
    kind = schema.get("type")
    return set(kind) if isinstance(kind, list) else {kind} if kind else set()


def test_booking_view_schema_equals_the_pydantic_model(spec: dict[str, Any]) -> None:
    # Given the model the read use case returns and the schema the document publishes
    model = BookingView.model_json_schema()
    published = spec["components"]["schemas"]["BookingView"]
    # Then they name the same fields, all present in every booking
    assert set(published["properties"]) == set(BookingView.model_fields)
    assert set(published["required"]) == set(model["required"]) == set(BookingView.model_fields)
    # and each field allows the same JSON types (null where the model allows None)
    for name, schema in model["properties"].items():
        assert _types(published["properties"][name]) == _types(schema), name


def test_no_response_shows_a_secret(spec: dict[str, Any]) -> None:
    # The connection shows status and expiry, never token material or a secret's name
    connection = spec["components"]["schemas"]["Connection"]["properties"]
    for forbidden in ("access_token", "refresh_token", "token_secret", "signing_key_secret", "client_secret"):
        assert forbidden not in connection


# What each served function can answer (its handler's replies), per operation: the contract must
# document every one, or a client (and schemathesis) meets a status it was never told about.
ANSWERS: dict[tuple[str, str], set[str]] = {
    ("get", "/v1/connections"): {"200", "400", "503"},  # functions/read_api
    ("post", "/v1/connections"): {"201", "400", "409", "503"},  # functions/connect_api (503: AWS, app secret)
    ("get", "/v1/connections/{connection_id}"): {"200", "400", "404", "503"},
    ("delete", "/v1/connections/{connection_id}"): {"200", "400", "404", "409", "503"},  # functions/disconnect_api
    ("get", "/v1/connections/{connection_id}/bookings"): {"200", "400", "404", "503"},
    ("get", "/v1/connections/{connection_id}/bookings/{invitee_uuid}"): {"200", "400", "404", "503"},
    ("get", "/v1/connections/{connection_id}/events/{event_uuid}"): {"200", "400", "404", "503"},
    ("get", "/v1/connections/{connection_id}/reports"): {"200", "400", "404", "503"},
}


@pytest.mark.parametrize(("method", "path"), sorted(ANSWERS), ids=[f"{m} {p}" for m, p in sorted(ANSWERS)])
def test_every_status_a_served_function_answers_is_documented(spec: dict[str, Any], method: str, path: str) -> None:
    documented = set(spec["paths"][path][method]["responses"])
    assert ANSWERS[method, path] <= documented


def test_a_real_cursor_has_the_documented_shape(spec: dict[str, Any]) -> None:
    # Given the cursor parameter as the contract describes it
    import re

    from calsync.read.cursor import MAX_BYTES, Position, encode

    schema = _deref(spec, spec["components"]["parameters"]["cursor"])["schema"]
    # When the read use case issues a cursor (one holding an odd uuid and long filters)
    issued = encode(
        Position("2026-12-01T10:00:00.000000Z", "EVENT-ü", "INVITEE_1"),
        key=b"k" * 32,
        connection_id="acme",
        filters={"email": "zoë@exämple.com", "status": "active"},
    )
    # Then it matches the documented shape, which a made-up token does not
    assert re.fullmatch(schema["pattern"], issued)
    assert schema["maxLength"] == MAX_BYTES
    assert not re.fullmatch(schema["pattern"], "not-a-cursor")


def test_the_bookings_query_states_the_400s_the_code_gives(spec: dict[str, Any]) -> None:
    operation = spec["paths"]["/v1/connections/{connection_id}/bookings"]["get"]
    params = {p["name"]: p for p in (_deref(spec, p) for p in operation["parameters"])}
    # An email is an address (any letters; the code refuses control, invisible and space characters)
    assert params["email"]["schema"]["format"] == "idn-email"
    # and the 400 names what the schema alone cannot say: the window's order, a cursor's binding
    refused = operation["responses"]["400"]["description"]
    for words in ("start_before", "start_after", "cursor", "another connection", "unknown parameter"):
        assert words in refused, words
