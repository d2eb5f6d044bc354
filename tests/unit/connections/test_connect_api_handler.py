"""The connect API's handler (functions/connect_api/app.py) over in-memory fakes: 201 with the
link and its expiry, each bad body a 400 naming the parameter, 409 for an active connection,
AWS down a 503 — never a 500 for anything a caller sends."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from calsync import compose
from calsync.connections.return_to import parse_origins
from tests.fakes.connections import FakeAppSecret, FakeRegistry
from tests.functions import load_app

ROOT = Path(__file__).resolve().parents[3]
SPEC = yaml.safe_load((ROOT / "openapi" / "calsync-v1.yaml").read_text())
OPERATION = SPEC["paths"]["/v1/connections"]["post"]
SECRET = {"client_id": "cid", "client_secret": "csecret", "webhook_signing_key": "wkey"}


def _load() -> ModuleType:
    return load_app("connect_api", "calsync_fn_connect_api_unit")


def event(body: str | None) -> dict[str, Any]:
    return {
        "httpMethod": "POST",
        "path": "/v1/connections",
        "headers": {"Host": "abc.execute-api.eu-west-1.amazonaws.com"},
        "requestContext": {"requestId": "r1", "domainName": "abc.execute-api.eu-west-1.amazonaws.com", "stage": "prod"},
        "body": body,
        "isBase64Encoded": False,
    }


def conforms(status: int, body: dict[str, Any]) -> None:
    """``body`` is what the contract says POST /v1/connections answers with ``status``."""
    response = OPERATION["responses"][str(status)]
    while "$ref" in response:
        response = SPEC["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = {**response["content"]["application/json"]["schema"], "components": SPEC["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def call(registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch) -> Callable[[str | None], dict[str, Any]]:
    app = _load()
    statuses = {"acme": "active", "gone": "removed"}
    api = compose.ConnectApi(
        registry=registry,  # type: ignore[arg-type]
        oauth_app=FakeAppSecret(SECRET),  # type: ignore[arg-type]
        status_of=statuses.get,
        return_origins=parse_origins("https://app.example.com"),
        authorize_url="https://auth.calendly.com/oauth/authorize",
    )
    monkeypatch.setattr(app, "services", lambda: api)
    monkeypatch.setattr(app.time, "time", lambda: 1_800_000_000.5)

    def run(body: str | None) -> dict[str, Any]:
        response: dict[str, Any] = app.lambda_handler(event(body), None)
        return {"status": response["statusCode"], **json.loads(response["body"])}

    return run


def test_a_new_connection_gets_its_link_to_this_stage_s_callback(call: Callable[..., dict[str, Any]]) -> None:
    started = call(json.dumps({"connection_id": "new", "return_to": "https://app.example.com/back"}))
    assert started["status"] == 201
    conforms(201, {k: v for k, v in started.items() if k != "status"})
    assert started["expires_at"] == "2027-01-15T08:10:00Z"  # 10 minutes after the clock
    query = parse_qs(urlsplit(started["authorize_url"]).query)
    assert query["redirect_uri"] == ["https://abc.execute-api.eu-west-1.amazonaws.com/prod/oauth/callback"]
    assert query["code_challenge_method"] == ["S256"]


def test_an_active_connection_is_a_409_and_a_removed_one_starts_again(call: Callable[..., dict[str, Any]]) -> None:
    assert call('{"connection_id": "acme"}')["status"] == 409
    conflict = call('{"connection_id": "acme"}')
    assert conflict["error"] == "conflict"
    conforms(409, {k: v for k, v in conflict.items() if k != "status"})
    assert call('{"connection_id": "gone"}')["status"] == 201


def test_an_app_secret_not_filled_in_yet_is_a_503_saying_so() -> None:
    app = _load()
    app.services = lambda: _api(FakeAppSecret({}))
    response = app.lambda_handler(event('{"connection_id": "new"}'), None)
    refused = json.loads(response["body"])
    assert (response["statusCode"], refused["error"]) == (503, "unavailable")
    assert "client_id" in refused["message"]


def _api(secret: FakeAppSecret) -> compose.ConnectApi:
    return compose.ConnectApi(
        registry=FakeRegistry(),  # type: ignore[arg-type]
        oauth_app=secret,  # type: ignore[arg-type]
        status_of=lambda _: None,
        return_origins=parse_origins("https://app.example.com"),
        authorize_url="https://auth.calendly.com/oauth/authorize",
    )


FUZZED = _load()
FUZZED.services = lambda: _api(FakeAppSecret(SECRET))


@settings(max_examples=150, deadline=None)
@given(
    body=st.one_of(
        st.none(),
        st.text(max_size=300),
        st.dictionaries(
            st.sampled_from(["connection_id", "return_to", "other", "\u202e"]),
            st.one_of(st.none(), st.integers(), st.booleans(), st.text(max_size=80), st.lists(st.integers())),
        ).map(json.dumps),
    )
)
def test_no_body_a_caller_sends_is_ever_a_5xx(body: str | None) -> None:
    response = FUZZED.lambda_handler(event(body), None)
    assert response["statusCode"] in (201, 400), response
    answer = json.loads(response["body"])
    conforms(response["statusCode"], answer)
    if response["statusCode"] == 400:
        assert answer["parameter"]
