"""Disconnecting on the local stack over HTTP: a connection made through the fake Calendly is
disconnected with a signed ``DELETE /v1/connections/{id}``; the fake Calendly no longer has its
subscription and its tokens are revoked; its webhooks get 410; ``calsync disconnect`` again is
done already; connecting the same id again works."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync_dev import cli
from calsync_dev.cli.send import post_signed
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from tests.e2e.conftest import RunningStack
from tests.factories import vary

pytestmark = pytest.mark.e2e


def signed_delete(url: str) -> tuple[int, dict[str, Any]]:
    """DELETE signed with SigV4 (service execute-api) with the local stack's credentials."""
    request = AWSRequest(method="DELETE", url=url, headers={"Accept": "application/json"})
    SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, method="DELETE", headers=dict(request.headers))  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(prepared, timeout=60) as answer:  # noqa: S310 - loopback
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


def connect(capsys: pytest.CaptureFixture[str], connection_id: str) -> None:
    assert cli.main(["connect", "oauth", "--connection-id", connection_id]) == 0
    link = capsys.readouterr().out.strip().splitlines()[-1]
    with urllib.request.urlopen(link, timeout=60) as page:  # noqa: S310 - loopback
        assert page.status == 200


def status_of(capsys: pytest.CaptureFixture[str], connection_id: str) -> str:
    assert cli.main(["connections", "--json"]) == 0
    (found,) = [c for c in json.loads(capsys.readouterr().out) if c["connection_id"] == connection_id]
    status: str = found["status"]
    return status


def test_disconnect_over_the_api_then_webhooks_are_gone_and_connecting_again_works(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    api = f"http://127.0.0.1:{local_stack.api_port}"
    hook = f"{api}/webhooks/calendly/bye"
    # Given a connection made through the (fake) Calendly
    connect(capsys, "bye")
    assert status_of(capsys, "bye") == "active"
    # When an application disconnects it with its data
    status, body = signed_delete(f"{api}/v1/connections/bye?erase_data=true")
    # Then every step is done at Calendly and in AWS, and the record is kept as removed
    assert status == 200, body
    assert (body["connection_id"], body["status"]) == ("bye", "removed")
    assert {step: s["outcome"] for step, s in body["steps"].items()} == {
        "delete_subscription": "done",
        "revoke_token": "done",
        "delete_secrets": "done",
        "erase_data": "done",
    }
    assert status_of(capsys, "bye") == "removed"
    # And its webhooks are answered 410 Gone, as JSON
    gone, answer = post_signed(hook, vary("invitee_created.json", email="bye@example.com"), DEFAULT_LOCAL_KEY)
    assert (gone, answer["error"]) == (410, "gone")
    # And the CLI finds nothing left to do; an unknown id is refused
    assert cli.main(["disconnect", "bye"]) == 0
    assert cli.main(["disconnect", "never-was"]) == 1
    # When the same id is connected again
    connect(capsys, "bye")
    # Then it is active and its webhooks are accepted again
    assert status_of(capsys, "bye") == "active"
    assert post_signed(hook, vary("invitee_created.json", email="bye@example.com"), DEFAULT_LOCAL_KEY)[0] == 202
