"""The /v1 API against its contract (openapi/calsync-v1.yaml) with schemathesis: requests signed
with SigV4 for ``execute-api`` (botocore), each response checked by schemathesis's own checks
(no server error, a documented status, the documented content type and body schema). Shared by
the e2e contract test and ``make api-fuzz``."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import requests
import schemathesis
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from calsync_dev.local.sigv4 import encoded_url
from calsync_dev.signed_api import LOCAL_CREDENTIALS, LOCAL_REGION
from calsync_dev.template import ROOT, load

DOCUMENT = ROOT / "openapi" / "calsync-v1.yaml"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


class SigV4(requests.auth.AuthBase):
    """requests' auth hook: the prepared request signed with botocore's SigV4Auth (``execute-api``)."""

    def __init__(self, credentials: Credentials = LOCAL_CREDENTIALS, region: str = LOCAL_REGION) -> None:
        self.signer = SigV4Auth(credentials, "execute-api", region)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.url = encoded_url(request.url or "")  # spaces as %20, not requests' "+": what is signed is sent
        body = request.body or b""
        data = body.encode() if isinstance(body, str) else body
        wanted = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "host")}
        aws = AWSRequest(method=request.method, url=request.url, data=data, headers=wanted)
        self.signer.add_auth(aws)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in aws.headers:
                request.headers[name] = aws.headers[name]
        return request


@cache
def contract() -> Any:
    """The OpenAPI document as schemathesis loads it."""
    return schemathesis.openapi.from_path(DOCUMENT)


def served_operations(template: dict[str, Any] | None = None) -> set[tuple[str, str]]:
    """(METHOD, path) of every /v1 operation the template routes to a function today."""
    from calsync_dev.local.gateway import api_routes

    return {(r.method, r.resource) for r in api_routes(template or load()) if r.resource.startswith("/v1/")}


def documented_operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the contract, in document order."""
    found: list[tuple[str, str]] = []
    for result in contract().get_all_operations():
        operation = result.ok()
        found.append((operation.method.upper(), operation.path))
    return found


def check(case: Any, response: Any, checks: Iterable[Any] = CHECKS) -> str | None:
    """schemathesis's verdict on one response: None when it conforms, else the failures in words."""
    try:
        case.validate_response(response, checks=list(checks))
    except FailureGroup as group:
        return "\n".join(failure.title for failure in group.exceptions)
    except Failure as failure:
        return failure.title
    return None
