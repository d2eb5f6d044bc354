"""Disconnecting on the stack provisioned from template.yaml: ``DELETE /v1/connections/{id}``
(DisconnectApiFunction) and ``calsync disconnect`` over moto, Calendly answered by the fake over
httpx. A connected tenant's subscription is deleted and its tokens revoked at Calendly, its
secrets deleted, its record kept ``removed``; with ``erase_data`` its bookings go too (another
tenant's stay); the receiver then answers 410 and enqueues nothing; a failure part-way is a 503
naming what is left and the same request finishes it; every AWS call is one the role allows;
connecting the same id again works."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from calsync.aws import keys
from calsync.aws.dynamo import scan_items
from calsync_dev.cli import main
from calsync_dev.cli.target import Target
from calsync_dev.fake_calendly import FakeCalendly
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from tests.factories import event_body
from tests.iam import not_granted, recorded_calls
from tests.integration.conftest import Pipeline
from tests.integration.test_connection_functions import APP_KEY, authorize, calendly_app, callback_event

TENANT = "tenant1"


@pytest.fixture
def fake(pipeline: Pipeline) -> Iterator[FakeCalendly]:
    env = pipeline.stack.functions["DisconnectApiFunction"].environment
    with calendly_app(env["OAUTH_APP_SECRET_NAME"]) as fake:
        yield fake


def connect(pipeline: Pipeline, fake: FakeCalendly, connection_id: str = TENANT) -> None:
    """Connect over OAuth, as the callback does, and deliver one booking to it."""
    callback = load_handler(pipeline.stack.functions["OAuthCallbackFunction"], apply_environment=False)
    event = callback_event({"code": fake.issue_code(), "state": authorize(pipeline.stack, connection_id)})
    assert callback(event, LambdaContext("cb"))["statusCode"] == 200


def deliver(pipeline: Pipeline, connection_id: str, *, fresh_receiver: bool = False) -> dict[str, Any]:
    if fresh_receiver:  # a cold start: nothing cached (see docs/connect.md on warm receivers)
        pipeline.receiver = load_handler(pipeline.stack.functions["ReceiverFunction"], apply_environment=False)
    # a booking of its own (another event and invitee than the pipeline's fixtures for "acme")
    body = event_body("invitee_created.json").replace(b"DEMOEVENT0000001", b"TENANTEVENT00001")
    return pipeline.post(body.replace(b"INVITEE00000001", b"TENANTINVITEE01"), key=APP_KEY, connection_id=connection_id)


def delete_request(connection_id: str, **query: str) -> dict[str, Any]:
    """``DELETE /v1/connections/{connection_id}`` as API Gateway's REST proxy hands it over."""
    return {
        "resource": "/v1/connections/{connection_id}",
        "path": f"/v1/connections/{connection_id}",
        "httpMethod": "DELETE",
        "headers": {"Host": "api.example"},
        "pathParameters": {"connection_id": connection_id},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "requestContext": {"requestId": "req-del-1", "identity": {"userArn": "arn:aws:iam::123456789012:user/app"}},
        "body": None,
        "isBase64Encoded": False,
    }


def tenant_items(pipeline: Pipeline, connection_id: str) -> list[dict[str, Any]]:
    return [
        item
        for item in scan_items(pipeline.repo.client, "test", TableName=pipeline.repo.table_name)
        if item.get("GSI2PK") == keys.tenant_pk(connection_id)
    ]


def secret_exists(name: str) -> bool:
    try:
        boto3.client("secretsmanager").describe_secret(SecretId=name)
    except boto3.client("secretsmanager").exceptions.ResourceNotFoundException:
        return False
    return True


def record(pipeline: Pipeline, connection_id: str = TENANT) -> dict[str, Any]:
    from calsync import compose

    found = compose.connection_registry(pipeline.repo.table_name).get(connection_id)
    assert found is not None
    return {"status": found.status, "pending": found.removal_pending, "removed_at": found.removed_at}


def test_delete_disconnects_erases_its_data_only_and_the_receiver_then_answers_410(
    pipeline: Pipeline, fake: FakeCalendly
) -> None:
    # Given a connected tenant with a booking stored, and the pipeline's own "acme" with one too
    connect(pipeline, fake)
    assert deliver(pipeline, TENANT)["statusCode"] == 202
    assert pipeline.post(event_body("invitee_canceled.json"))["statusCode"] == 202
    pipeline.drain()
    assert tenant_items(pipeline, TENANT)
    acme_before = tenant_items(pipeline, "acme")
    env = pipeline.stack.functions["DisconnectApiFunction"].environment
    tokens = list(fake.access_tokens) + [t for t, valid in fake.refresh_tokens.items() if valid]
    # When the application disconnects it with its data
    handler = load_handler(pipeline.stack.functions["DisconnectApiFunction"], apply_environment=False)
    with recorded_calls() as calls:
        answer = handler(delete_request(TENANT, erase_data="true"), LambdaContext("disconnect-api", timeout_seconds=29))
    # Then it is 200, every step done, each AWS call allowed by the function's own role
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 200, body
    assert (body["connection_id"], body["status"], body["erase_data"]) == (TENANT, "removed", True)
    assert {step: s["outcome"] for step, s in body["steps"].items()} == {
        "delete_subscription": "done",
        "revoke_token": "done",
        "delete_secrets": "done",
        "erase_data": "done",
    }
    assert not_granted("DisconnectApiFunction", calls) == []
    # And Calendly has no subscription left and both tokens are revoked
    assert fake.subscriptions == {}
    assert set(tokens) <= set(fake.revoked)
    assert not any(fake.refresh_tokens.values())
    # And the secrets are gone, the record kept as removed, the tenant's data erased, acme's kept
    assert not secret_exists(env["TOKEN_SECRET_PREFIX"] + TENANT)
    assert not secret_exists(env["SIGNING_KEY_PREFIX"] + TENANT)
    assert record(pipeline)["status"] == "removed"
    assert record(pipeline)["pending"] == []
    assert tenant_items(pipeline, TENANT) == []
    assert tenant_items(pipeline, "acme") == acme_before
    # When Calendly delivers to it again
    depth = pipeline.total_depth()
    with recorded_calls() as receiver_calls:
        gone = deliver(pipeline, TENANT, fresh_receiver=True)
    # Then the receiver answers 410 Gone with JSON and enqueues nothing, from its registry read alone
    assert (gone["statusCode"], gone["json"]["error"]) == (410, "gone")
    assert [(c.service, c.operation) for c in receiver_calls] == [("dynamodb", "GetItem")]
    assert not_granted("ReceiverFunction", receiver_calls) == []
    assert pipeline.total_depth() == depth
    # When the same DELETE comes again: 200, nothing left to do
    again = handler(delete_request(TENANT), LambdaContext("disconnect-api", timeout_seconds=29))
    assert (again["statusCode"], json.loads(again["body"])["steps"]) == (200, {})


def test_unknown_ids_are_404_and_a_bad_erase_data_400(pipeline: Pipeline, fake: FakeCalendly) -> None:
    handler = load_handler(pipeline.stack.functions["DisconnectApiFunction"], apply_environment=False)
    missing = handler(delete_request("nobody"), LambdaContext("disconnect-api"))
    malformed = handler(delete_request("../etc"), LambdaContext("disconnect-api"))
    bad = handler(delete_request("acme", erase_data="yes please"), LambdaContext("disconnect-api"))
    assert (missing["statusCode"], json.loads(missing["body"])["error"]) == (404, "not_found")
    assert malformed["statusCode"] == 404
    assert (bad["statusCode"], json.loads(bad["body"])["parameter"]) == (400, "erase_data")
    assert record(pipeline, "acme")["status"] == "active"


def test_calendly_down_is_a_503_naming_the_steps_left_and_the_same_request_finishes(
    pipeline: Pipeline, fake: FakeCalendly
) -> None:
    # Given a connected tenant, and Calendly's revoke endpoint failing
    connect(pipeline, fake)
    fake.fail_next("/oauth/revoke", "unavailable", times=5)
    handler = load_handler(pipeline.stack.functions["DisconnectApiFunction"], apply_environment=False)
    # When it is disconnected
    first = handler(delete_request(TENANT), LambdaContext("disconnect-api", timeout_seconds=29))
    # Then it is a 503 with JSON naming what is left; the connection is already removed (410s)
    body = json.loads(first["body"])
    assert first["statusCode"] == 503
    assert (body["error"], body["remaining"]) == ("unavailable", ["revoke_token", "delete_secrets"])
    assert record(pipeline)["status"] == "removed"
    assert fake.subscriptions == {}
    # When Calendly is back and the same request is sent again
    fake.faults.clear()
    second = handler(delete_request(TENANT), LambdaContext("disconnect-api", timeout_seconds=29))
    # Then it completes what was left
    assert second["statusCode"] == 200
    assert set(json.loads(second["body"])["steps"]) == {"revoke_token", "delete_secrets"}
    assert record(pipeline)["pending"] == []


def test_the_cli_disconnects_and_connecting_the_same_id_again_works(
    pipeline: Pipeline, fake: FakeCalendly, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a connected tenant
    connect(pipeline, fake)
    env = pipeline.stack.functions["DisconnectApiFunction"].environment
    target = Target(
        None,
        env["BOOKINGS_TABLE_NAME"],
        {},
        {},
        token_prefix=env["TOKEN_SECRET_PREFIX"],
        signing_key_prefix=env["SIGNING_KEY_PREFIX"],
        oauth_app_secret=env["OAUTH_APP_SECRET_NAME"],
    )
    monkeypatch.setattr("calsync_dev.cli.connections.target_from", lambda args: target)
    # When `calsync disconnect tenant1` runs
    assert main(["disconnect", TENANT]) == 0
    # Then it says so, and the connection is removed
    assert f"disconnected '{TENANT}'" in capsys.readouterr().out
    assert record(pipeline)["status"] == "removed"
    # When the same id is connected again
    connect(pipeline, fake)
    # Then the record is active again, nothing of the disconnect on it, and deliveries are accepted
    assert record(pipeline) == {"status": "active", "pending": None, "removed_at": None}
    assert deliver(pipeline, TENANT, fresh_receiver=True)["statusCode"] == 202
    # And disconnecting an unknown id is refused with a reason
    assert main(["disconnect", "nobody"]) == 1


def test_erasing_a_tenants_data_stops_when_time_runs_out_and_a_second_run_finishes_it(pipeline: Pipeline) -> None:
    from calsync.connections.aws_tenant_data import SECONDS_PER_EVENT, DynamoTenantData

    # Given three bookings of "acme", each its own event
    for n in range(3):
        body = event_body("invitee_created.json").replace(b"DEMOEVENT0000001", f"TENANTEVENT0000{n}".encode())
        body = body.replace(b"INVITEE00000001", f"TENANTINVITEE0{n}".encode())
        assert pipeline.post(body, connection_id="acme")["statusCode"] == 202
    pipeline.drain()
    moved = {item["PK"]: item for item in tenant_items(pipeline, "acme")}
    assert len(moved) == 3
    data = DynamoTenantData(pipeline.repo.table_name, pipeline.repo.client)
    # When a run has time for one event only
    budget = iter([SECONDS_PER_EVENT, 0.0])
    assert data.erase("acme", time_left=lambda: next(budget, 0.0)) is False
    # Then one event is gone with its invitees, two are left (each listed with its invitee)
    left_now = tenant_items(pipeline, "acme")
    assert len({item["PK"] for item in left_now}) == 2
    assert sorted(item["SK"].partition("#")[0] for item in left_now) == ["EVENT", "EVENT", "INVITEE", "INVITEE"]
    # When run again with time enough, the rest goes, invitees included
    assert data.erase("acme", time_left=lambda: 60.0) is True
    assert tenant_items(pipeline, "acme") == []
    left = [i for i in pipeline.items() if i["PK"] in moved]
    assert left == []
