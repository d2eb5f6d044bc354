"""Erasure as a service on the local stack, over HTTP as an application calls it (SigV4-signed
with the local stack's credentials): Ada's booking in, ``POST /v1/connections/local/erasures``,
the worker runs, the status ends ``done`` with counts, and her booking is gone."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync.aws.dynamo import scan_items
from calsync_dev.cli.send import post_signed
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from tests.e2e.conftest import RunningStack, wait_for
from tests.erasure import items_holding
from tests.factories import event_body

pytestmark = pytest.mark.e2e

ADA = "ada@example.com"


def signed(stack: RunningStack, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{stack.api_port}{path}"
    data = None if body is None else json.dumps(body).encode()
    request = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, data=data, method=method, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_an_erasure_asked_over_http_runs_to_done(local_stack: RunningStack, target: Target) -> None:
    # Given Ada's booking with the local connection, stored
    assert post_signed(local_stack.webhook_url, event_body("invitee_created.json"), DEFAULT_LOCAL_KEY)[0] == 202

    def ada_items() -> list[str]:
        return items_holding(scan_items(target.client("dynamodb"), "e2e", TableName=target.table), ADA)

    wait_for(ada_items, what="Ada's booking stored")
    # When an application asks for her erasure from the local connection's data
    status, accepted = signed(local_stack, "POST", "/v1/connections/local/erasures", {"email": ADA})
    assert status == 202, accepted
    path = f"/v1/connections/local/erasures/{accepted['erasure_id']}"

    # Then the worker runs it to done, with counts, and her booking is gone
    def done() -> dict[str, Any] | None:
        answer = signed(local_stack, "GET", path)[1]
        return answer if answer.get("status") == "done" else None

    finished = wait_for(done, timeout=90, what="the erasure done")
    assert finished["counts"]["invitees"] == 1
    assert finished["scope"] == {"connection_id": "local"}
    assert ada_items() == []
    # And bad input is a 400, an unknown connection a 404
    assert signed(local_stack, "POST", "/v1/connections/local/erasures", {"email": 5})[0] == 400
    assert signed(local_stack, "POST", "/v1/connections/nobody/erasures", {"email": ADA})[0] == 404
