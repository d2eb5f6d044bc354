"""`calsync migrate` on the local stack, as an operator runs it after an upgrade: a booking stored
before GSI3 (its invitee without GSI3PK) is a 404 on the signed
``GET /v1/connections/local/bookings/{invitee_uuid}`` until the migration ran, then a 200; running
it again updates nothing."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from calsync.aws import keys
from calsync_dev import cli
from calsync_dev.cli.send import post_signed
from calsync_dev.cli.target import Target
from calsync_dev.events import DEFAULT_LOCAL_KEY
from tests.e2e.conftest import RunningStack, wait_for
from tests.factories import event_body

pytestmark = pytest.mark.e2e

INVITEE = "INVITEE00000001"  # events/webhooks/invitee_created.json's invitee, of DEMOEVENT0000001


def booking_status(stack: RunningStack) -> int:
    """The signed ``GET /v1/connections/local/bookings/INVITEE00000001``'s status."""
    url = f"http://127.0.0.1:{stack.api_port}/v1/connections/local/bookings/{INVITEE}"
    signed = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("local", "local"), "execute-api", "us-east-1").add_auth(signed)
    request = urllib.request.Request(url, headers=dict(signed.headers), method="GET")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback
            return int(response.status)
    except urllib.error.HTTPError as answer:
        return int(answer.code)


def test_a_booking_stored_before_gsi3_is_found_by_uuid_after_calsync_migrate(
    local_stack: RunningStack, target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a booking delivered and stored, then made as an earlier version stored it (no GSI3PK)
    status, _ = post_signed(local_stack.webhook_url, event_body("invitee_created.json"), DEFAULT_LOCAL_KEY)
    assert status == 202
    wait_for(lambda: booking_status(local_stack) == 200, timeout=60, what="the booking stored")
    dynamodb = target.client("dynamodb")
    key = keys.invitee("DEMOEVENT0000001", INVITEE).dynamo()
    dynamodb.update_item(TableName=target.table, Key=key, UpdateExpression="REMOVE GSI3PK")
    assert booking_status(local_stack) == 404
    # When the operator runs the pending migrations
    assert cli.main(["migrate", "--json"]) == 0
    step, listed = json.loads(capsys.readouterr().out)["steps"]
    # Then the booking is found by its uuid again (its GSI2 keys were written by this version)
    assert (step["step"], step["updated"]) == ("gsi3-booking-index", 1)
    assert (listed["step"], listed["updated"]) == ("gsi2-tenant-invitees", 0)
    assert booking_status(local_stack) == 200
    # And running the step again changes nothing
    assert cli.main(["migrate", "--step", "gsi3-booking-index", "--json"]) == 0
    (again,) = json.loads(capsys.readouterr().out)["steps"]
    assert (again["updated"], again["already_done"]) == (0, step["scanned"])
