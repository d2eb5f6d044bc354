"""Check a real response against openapi/calsync-v1.yaml: the body an operation answered with a
status must match that response's JSON schema (OpenAPI 3.1 schemas are JSON Schema 2020-12),
``date-time`` formats included. Used by the integration tests of the /v1 routes."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator, FormatChecker

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi" / "calsync-v1.yaml"
_FORMATS = FormatChecker()


@_FORMATS.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    at = datetime.fromisoformat(value)  # RFC 3339: a time zone is required
    return "T" in value and at.tzinfo is not None


@cache
def spec() -> dict[str, Any]:
    loaded = yaml.safe_load(DOCUMENT.read_text())
    assert isinstance(loaded, dict)
    return loaded


def _deref(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def response_schema(method: str, path: str, status: int) -> dict[str, Any]:
    """The JSON schema of ``method path``'s ``status`` response body (``path`` as the contract
    spells it, e.g. ``/v1/connections/{connection_id}``)."""
    operation = spec()["paths"][path][method.lower()]
    responses = operation["responses"]
    assert str(status) in responses, f"{method} {path} documents no {status}"
    schema = _deref(responses[str(status)])["content"]["application/json"]["schema"]
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": spec()["components"], **schema}


def check(method: str, path: str, response: dict[str, Any]) -> Any:
    """The response's JSON body, after checking it (and its status) against the contract."""
    body = json.loads(response["body"])
    schema = response_schema(method, path, int(response["statusCode"]))
    errors = sorted(Draft202012Validator(schema, format_checker=_FORMATS).iter_errors(body), key=str)
    assert not errors, f"{method} {path} {response['statusCode']}: " + "; ".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5]
    )
    return body
