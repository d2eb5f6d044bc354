"""The fault middleware's rules (calsync_dev.local.faults) and the local stack's gate, in-process."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest

from calsync_dev.local.faults import CALLS_PATH, CONTROL_PATH, FaultMiddleware, FaultRule
from calsync_dev.local.stack import Gate


def moto(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "application/json")])
    return [b'{"moto": true}']


def call(
    app: FaultMiddleware, target: str = "", *, path: str = "/", method: str = "POST", body: bytes = b"{}"
) -> tuple[str, Any]:
    answer: dict[str, str] = {}
    environ = {
        "PATH_INFO": path,
        "REQUEST_METHOD": method,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "HTTP_X_AMZ_TARGET": target,
    }
    data = b"".join(app(environ, lambda status, headers: answer.update(status=status)))
    return answer["status"], json.loads(data)


def arm(app: FaultMiddleware, rule: dict[str, Any]) -> None:
    status, _ = call(app, path=CONTROL_PATH, body=json.dumps(rule).encode())
    assert status.startswith("200")


def test_an_armed_error_answers_the_next_n_matching_calls_only() -> None:
    app = FaultMiddleware(moto)
    arm(app, {"service": "dynamodb", "operations": ["PutItem"], "error": "ThrottlingException", "count": 2})
    # Another operation and another service pass through
    assert call(app, "DynamoDB_20120810.GetItem") == ("200 OK", {"moto": True})
    assert call(app, "AmazonSQS.SendMessage") == ("200 OK", {"moto": True})
    # The next two PutItem calls get the error, as DynamoDB spells it; the third passes
    for _ in range(2):
        status, body = call(app, "DynamoDB_20120810.PutItem")
        assert status.startswith("400")
        assert body["__type"] == "com.amazonaws.dynamodb.v20120810#ThrottlingException"
    assert call(app, "DynamoDB_20120810.PutItem") == ("200 OK", {"moto": True})
    _, listed = call(app, path=CONTROL_PATH, method="GET")
    assert [(r["hits"], r["remaining"]) for r in listed["rules"]] == [(2, 0)]


def test_server_error_codes_are_5xx_and_delete_clears_every_rule() -> None:
    app = FaultMiddleware(moto)
    arm(app, {"service": "sqs", "error": "ServiceUnavailable", "count": 5})
    assert call(app, "AmazonSQS.ReceiveMessage")[0].startswith("503")
    call(app, path=CONTROL_PATH, method="DELETE")
    assert call(app, "AmazonSQS.ReceiveMessage") == ("200 OK", {"moto": True})


@pytest.mark.parametrize(
    "rule",
    [
        {"service": "sqs"},
        {"service": "sqs", "error": "X", "count": 0},
        {"error": "X"},
        {"service": "sqs", "delay_ms": -1},
    ],
)
def test_a_rule_that_could_never_fire_is_refused(rule: dict[str, Any]) -> None:
    app = FaultMiddleware(moto)
    status, body = call(app, path=CONTROL_PATH, body=json.dumps(rule).encode())
    assert status.startswith("400")
    assert body["error"] == "invalid_rule"
    with pytest.raises((ValueError, KeyError)):
        FaultRule.from_json(rule)


def test_the_gate_waits_for_work_in_flight_and_turns_new_work_away_while_closed() -> None:
    gate = Gate()
    assert gate.enter(wait=False)
    closed, released = threading.Event(), threading.Event()

    def close() -> None:
        with gate.closed():
            closed.set()
            released.wait(5)

    closer = threading.Thread(target=close)
    closer.start()
    assert not closed.wait(0.2)  # one piece of work is still in flight
    gate.leave()
    assert closed.wait(5)
    assert not gate.enter(wait=False)  # closed: turned away
    released.set()
    closer.join(5)
    assert gate.enter(wait=False)
    gate.leave()


def test_the_emulator_counts_every_aws_call_by_operation_and_forgets_on_delete() -> None:
    # Given the emulator's middleware and a few calls (JSON protocol, and one REST call)
    app = FaultMiddleware(moto)
    call(app, "DynamoDB_20120810.UpdateItem")
    call(app, "DynamoDB_20120810.UpdateItem")
    call(app, "AmazonSQS.ReceiveMessage")
    call(app, path="/schedules/x", method="GET")
    # When the counts are asked for
    status, counts = call(app, path=CALLS_PATH, method="GET")
    # Then each operation is counted (the control calls are not)
    assert status.startswith("200")
    assert counts == {
        "total": 4,
        "calls": {"DynamoDB_20120810.UpdateItem": 2, "AmazonSQS.ReceiveMessage": 1, "GET /schedules": 1},
    }
    # And DELETE starts the count again
    call(app, path=CALLS_PATH, method="DELETE")
    assert call(app, path=CALLS_PATH, method="GET")[1] == {"total": 0, "calls": {}}
