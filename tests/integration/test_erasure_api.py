"""Erasure as a service on the stack provisioned from template.yaml: a tenant's
``POST /v1/connections/acme/erasures`` is queued, the worker erases Ada from acme's data only
(globex keeps hers), the status ends ``done`` with counts, a duplicate message changes nothing,
later deliveries respect the tombstone's scope, and every AWS request each function makes is
one its own role allows. Bad input is a clear 4xx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest
import yaml

from calsync.aws.dynamo import scan_items
from calsync.erasure.rules import carries
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from calsync_dev.provision import register_webhook_connection
from calsync_dev.pump import SqsEventSource
from tests.factories import event_body, event_json
from tests.iam import not_granted, recorded_calls
from tests.integration.conftest import KEY, Pipeline

ADA = "ada@example.com"  # the invitee of invitee_created.json
TENANT = "/v1/connections/{connection_id}/erasures"
EVERYWHERE = "/v1/erasures"


def globex_booking() -> bytes:
    """Ada's booking with globex: its own event and invitee (another tenant's Calendly)."""
    text = json.dumps(event_json("invitee_created.json"))
    return text.replace("DEMOEVENT0000001", "GLOBEXEVENT00001").replace("INVITEE00000001", "GLOBEXINV000001").encode()


def api_event(method: str, resource: str, body: str | None = None, **path: str) -> dict[str, Any]:
    """A request as API Gateway's REST proxy hands it over."""
    return {
        "resource": resource,
        "path": resource.format(**path),
        "httpMethod": method,
        "headers": {"Host": "api.example", "Content-Type": "application/json"},
        "pathParameters": path or None,
        "queryStringParameters": None,
        "requestContext": {"requestId": "req-erase-1", "identity": {"userArn": "arn:aws:iam::123456789012:user/app"}},
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.fixture
def two_tenants(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> Pipeline:
    """Ada booked with acme and with globex, both processed."""
    monkeypatch.setenv("ERASURE_SWEEP_WAIT_SECONDS", "0")  # moto answers an empty long poll only when it ends
    register_webhook_connection(pipeline.stack.functions["ReceiverFunction"].environment, "globex", KEY)
    assert pipeline.post(event_body("invitee_created.json"))["statusCode"] == 202
    assert pipeline.post(globex_booking(), connection_id="globex")["statusCode"] == 202
    pipeline.drain()
    return pipeline


@pytest.fixture
def api(two_tenants: Pipeline) -> Any:
    return load_handler(two_tenants.stack.functions["ErasureApiFunction"], apply_environment=False)


def worker(pipeline: Pipeline) -> SqsEventSource:
    handler = load_handler(pipeline.stack.functions["ErasureWorkerFunction"], apply_environment=False)
    stack = pipeline.stack
    return SqsEventSource(
        pipeline.sqs, stack.queue_urls["ErasureQueue"], stack.queue_arns["ErasureQueue"], handler, LambdaContext("w")
    )


CONTRACT = yaml.safe_load((Path(__file__).resolve().parents[2] / "openapi" / "calsync-v1.yaml").read_text())


def conforms(method: str, resource: str, status: int, answer: dict[str, Any]) -> None:
    """The answer matches the contract's schema for that route and status (openapi/calsync-v1.yaml)."""
    response = CONTRACT["paths"][resource][method.lower()]["responses"][str(status)]
    if "$ref" in response:
        response = CONTRACT["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
    schema = response["content"]["application/json"]["schema"]
    jsonschema.validate(answer, {**schema, "components": CONTRACT["components"]}, cls=jsonschema.Draft202012Validator)


def call(api: Any, method: str, resource: str, body: Any = None, **path: str) -> tuple[int, dict[str, Any]]:
    text = body if body is None or isinstance(body, str) else json.dumps(body)
    response = api(api_event(method, resource, text, **path), LambdaContext("erasure-api"))
    answer = json.loads(response["body"])
    conforms(method, resource, response["statusCode"], answer)
    return response["statusCode"], answer


def table(pipeline: Pipeline) -> list[dict[str, Any]]:
    return list(scan_items(pipeline.repo.client, "test", TableName=pipeline.repo.table_name))


def invitees_of(pipeline: Pipeline, email: str) -> dict[str, str]:
    """Invitee items carrying the address: key → tenant."""
    return {
        item["SK"]: item.get("tenant")
        for item in table(pipeline)
        if item.get("type") == "invitee" and carries(item.get("email"), email)
    }


def test_a_tenants_erasure_runs_to_done_and_leaves_the_other_tenant_untouched(
    two_tenants: Pipeline, api: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert set(invitees_of(two_tenants, ADA).values()) == {"acme", "globex"}
    # When acme asks for Ada's erasure
    with recorded_calls() as api_calls:
        status, accepted = call(api, "POST", TENANT, {"email": "Ada@Example.com"}, connection_id="acme")
        assert status == 202, accepted
        erasure_id = accepted["erasure_id"]
        status, pending = call(api, "GET", f"{TENANT}/{{erasure_id}}", connection_id="acme", erasure_id=erasure_id)
    # Then it is pending, scoped to acme, and its record holds no address
    assert (status, pending["status"], pending["scope"]) == (200, "pending", {"connection_id": "acme"})
    records = [i for i in table(two_tenants) if i.get("type") == "erasure_request"]
    assert len(records) == 1
    assert not carries(records[0], ADA)
    assert not_granted("ErasureApiFunction", api_calls) == []
    # When the worker takes the queued request
    with recorded_calls() as worker_calls:
        assert worker(two_tenants).drain() == 1
    # Then it is done with counts per store, and only acme's Ada is gone
    status, done = call(api, "GET", f"{TENANT}/{{erasure_id}}", connection_id="acme", erasure_id=erasure_id)
    assert (status, done["status"]) == (200, "done")
    assert done["counts"]["invitees"] == 1
    assert done["finished_at"] is not None
    assert set(invitees_of(two_tenants, ADA).values()) == {"globex"}
    assert not_granted("ErasureWorkerFunction", worker_calls) == []
    # And the erasure is not readable through another tenant's path, but is through the operator's
    assert call(api, "GET", f"{TENANT}/{{erasure_id}}", connection_id="globex", erasure_id=erasure_id)[0] == 404
    assert call(api, "GET", f"{EVERYWHERE}/{{erasure_id}}", erasure_id=erasure_id)[1]["status"] == "done"
    # And the queue keeps nothing: the message (the only place the address travelled) is gone
    assert (
        two_tenants.sqs.get_queue_attributes(
            QueueUrl=two_tenants.stack.queue_urls["ErasureQueue"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "0"
    )
    # And neither function logged the address
    assert ADA not in capsys.readouterr().out.lower()


def test_a_duplicate_message_changes_nothing_and_later_deliveries_respect_the_scope(
    two_tenants: Pipeline, api: Any
) -> None:
    _, accepted = call(api, "POST", TENANT, {"email": ADA}, connection_id="acme")
    erasure_id = accepted["erasure_id"]
    # Given the job is delivered twice (SQS is at-least-once)
    url = two_tenants.stack.queue_urls["ErasureQueue"]
    body = json.dumps({"erasure_id": erasure_id, "email": ADA, "connection_id": "acme"})
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=body)
    assert worker(two_tenants).drain() == 2
    _, done = call(api, "GET", f"{EVERYWHERE}/{{erasure_id}}", erasure_id=erasure_id)
    assert done["status"] == "done"
    audits = [i for i in table(two_tenants) if i.get("type") == "erasure"]
    assert len(audits) == 1
    # naming who asked (the signed caller) and the scope
    assert (audits[0]["principal"], audits[0]["scope"]) == ("arn:aws:iam::123456789012:user/app", "acme")
    # When Ada's bookings (made before the erasure) are delivered again for both tenants
    assert two_tenants.post(event_body("invitee_created.json"))["statusCode"] == 202
    assert two_tenants.post(globex_booking(), connection_id="globex")["statusCode"] == 202
    two_tenants.drain()
    # Then acme's is refused (kept nowhere) and globex's is stored as before
    assert set(invitees_of(two_tenants, ADA).values()) == {"globex"}


def test_an_erasure_everywhere_removes_every_tenants_records(two_tenants: Pipeline, api: Any) -> None:
    status, accepted = call(api, "POST", EVERYWHERE, {"email": ADA})
    assert status == 202
    worker(two_tenants).drain()
    _, done = call(api, "GET", f"{EVERYWHERE}/{{erasure_id}}", erasure_id=accepted["erasure_id"])
    assert (done["status"], done["scope"], done["counts"]["invitees"]) == ("done", {"connection_id": None}, 2)
    assert invitees_of(two_tenants, ADA) == {}


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        (None, "body"),
        ("not json", "body"),
        ({"email": 5}, "email"),
        ({"email": ["ada@example.com"]}, "email"),
        ({"email": ADA, "name": "Ada"}, "body"),
        ({"mail": ADA}, "body"),
        ({"email": ""}, "email"),
        ({"email": "ada"}, "email"),
        ({"email": "ada@example.com, bob@example.com"}, "email"),
        ({"email": "ada\u200b@example.com"}, "email"),
        ({"email": "ada@exa\u202emple.com"}, "email"),
        ({"email": "a" * 300 + "@example.com"}, "email"),
        ({"email": ADA, "pad": "x" * 10_000}, "body"),
        ("[]", "body"),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter_and_queues_nothing(
    two_tenants: Pipeline, api: Any, body: Any, parameter: str
) -> None:
    status, answer = call(api, "POST", TENANT, body, connection_id="acme")
    assert (status, answer["error"], answer["parameter"]) == (400, "bad_request", parameter)
    assert "ada" not in answer["message"].lower()
    assert worker(two_tenants).drain() == 0


def test_unknown_connections_and_erasures_are_404s(two_tenants: Pipeline, api: Any) -> None:
    assert call(api, "POST", TENANT, {"email": ADA}, connection_id="nobody")[0] == 404
    assert call(api, "POST", TENANT, {"email": ADA}, connection_id="../x")[0] == 404
    assert call(api, "GET", f"{EVERYWHERE}/{{erasure_id}}", erasure_id="0" * 32)[0] == 404
    assert call(api, "GET", f"{EVERYWHERE}/{{erasure_id}}", erasure_id="not an id")[0] == 404
    assert call(api, "GET", f"{TENANT}/{{erasure_id}}", connection_id="acme", erasure_id="0" * 32)[0] == 404


def test_the_command_erases_from_one_connection_only(
    two_tenants: Pipeline, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from calsync_dev.cli import erase as erase_cli
    from calsync_dev.cli import main
    from tests.integration.test_erasure import target_of

    target = target_of(two_tenants.stack)
    monkeypatch.setattr("calsync_dev.cli.erase.target_from", lambda args: target)
    monkeypatch.setattr("calsync_dev.cli.erase.principal", lambda target: "arn:aws:iam::123456789012:user/op")
    original = erase_cli.services  # without long polls: moto answers an empty one only when it ends
    monkeypatch.setattr(erase_cli, "services", lambda target, wait_seconds=None: original(target, wait_seconds=0))
    # When the operator erases Ada from acme's data only
    assert main(["erase", "--email", ADA, "--connection-id", "acme"]) == 0
    out = capsys.readouterr().out
    assert "from connection acme's data" in out
    # Then globex keeps her booking, and the audit lists the scope
    assert set(invitees_of(two_tenants, ADA).values()) == {"globex"}
    assert main(["erase", "--list"]) == 0
    assert "  acme  by arn:aws:iam::123456789012:user/op" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("method", "resource", "path"),
    [
        ("POST", TENANT, {"connection_id": "acme"}),
        ("POST", EVERYWHERE, {}),
        ("GET", f"{TENANT}/{{erasure_id}}", {"connection_id": "acme", "erasure_id": "0" * 32}),
        ("GET", f"{EVERYWHERE}/{{erasure_id}}", {"erasure_id": "0" * 32}),
    ],
)
def test_a_query_parameter_no_erasure_route_takes_is_a_400_naming_it(
    two_tenants: Pipeline, api: Any, method: str, resource: str, path: dict[str, str]
) -> None:
    # Given a call to an erasure route with a query parameter the contract does not name
    event = api_event(method, resource, json.dumps({"email": ADA}) if method == "POST" else None, **path)
    event["queryStringParameters"] = {"limit": "1"}
    # When the API answers it
    response = api(event, LambdaContext("erasure-api"))
    answer = json.loads(response["body"])
    # Then it is a 400 naming that parameter (as every other /v1 route answers), and nothing is queued
    assert (response["statusCode"], answer["parameter"]) == (400, "limit")
    conforms(method, resource, 400, answer)
    assert worker(two_tenants).drain() == 0
