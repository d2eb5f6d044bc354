"""The disconnect API's handler (functions/disconnect_api/app.py) over in-memory fakes: the
answer for each outcome (200, 404, 409, 400, and 503 when AWS or Calendly failed), each JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from calsync.calendly.errors import CalendlyUnavailable
from tests.functions import load_app
from tests.unit.connections.test_disconnect import World, connection
from tests.unit.connections.test_disconnect import world as world

ROOT = Path(__file__).resolve().parents[3]


class Context:
    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _load() -> ModuleType:
    return load_app("disconnect_api", "calsync_fn_disconnect_api_unit")


@pytest.fixture
def call(world: World, monkeypatch: pytest.MonkeyPatch) -> Callable[..., tuple[int, dict[str, Any]]]:
    app = _load()
    monkeypatch.setattr(app, "services", world.disconnector)

    def invoke(connection_id: str = "acme", **query: str) -> tuple[int, dict[str, Any]]:
        event = {
            "resource": "/v1/connections/{connection_id}",
            "httpMethod": "DELETE",
            "pathParameters": {"connection_id": connection_id},
            "queryStringParameters": query or None,
            "requestContext": {"requestId": "req-1"},
        }
        answer = app.lambda_handler(event, Context())
        assert answer["headers"]["Content-Type"] == "application/json"
        return answer["statusCode"], json.loads(answer["body"])

    return invoke


def test_a_disconnect_is_200_with_its_steps(call: Callable[..., tuple[int, dict[str, Any]]], world: World) -> None:
    status, body = call(erase_data="TRUE")
    assert status == 200
    assert (body["status"], body["erase_data"], body["erasure_id"]) == ("removed", True, None)
    assert set(body["steps"]) == {"delete_subscription", "revoke_token", "delete_secrets", "erase_data"}


@pytest.mark.parametrize("connection_id", ["nobody", "", "../x", "a" * 65])
def test_unknown_or_impossible_ids_are_404(call: Callable[..., tuple[int, dict[str, Any]]], connection_id: str) -> None:
    status, body = call(connection_id)
    assert (status, body["error"]) == (404, "not_found")


@pytest.mark.parametrize("value", ["yes", "1", "", "trueish", "🙂"])
def test_a_bad_erase_data_is_400_naming_it(call: Callable[..., tuple[int, dict[str, Any]]], value: str) -> None:
    status, body = call(erase_data=value)
    assert (status, body["error"], body["parameter"]) == (400, "bad_request", "erase_data")


def test_a_busy_connection_is_409(call: Callable[..., tuple[int, dict[str, Any]]], world: World) -> None:
    assert world.registry.acquire_lease("acme", owner="refresher", now=int(world.clock), seconds=300)
    status, body = call()
    assert (status, body["error"]) == (409, "conflict")


def test_calendly_down_is_503_naming_what_is_left(
    call: Callable[..., tuple[int, dict[str, Any]]], world: World
) -> None:
    world.calendly.fail = CalendlyUnavailable(503, "Service Unavailable", "down")
    status, body = call()
    assert status == 503
    assert (body["error"], body["status"]) == ("unavailable", "removed")
    assert body["remaining"] == ["delete_subscription", "delete_secrets"]


def test_the_registry_down_is_503_and_nothing_changed(
    call: Callable[..., tuple[int, dict[str, Any]]], world: World
) -> None:
    world.registry.table.fail.add("get")
    status, body = call()
    assert (status, body["error"]) == (503, "unavailable")
    world.registry.table.fail.clear()
    assert world.record() == world.registry.get("acme")
    assert world.record().status == connection().status


def _schema(name: str) -> dict[str, Any]:
    import yaml

    spec = yaml.safe_load((ROOT / "openapi" / "calsync-v1.yaml").read_text())
    return {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}


def test_every_answer_matches_the_published_contract(
    call: Callable[..., tuple[int, dict[str, Any]]], world: World
) -> None:
    import jsonschema

    # A 503 part-way, its completion (200), a repeat (200 with no steps), a 404, a 400 and a 409
    world.revoker.fail = CalendlyUnavailable(503, "Service Unavailable", "down")
    answers = [call()]
    world.revoker.fail = None
    answers += [call(), call(), call("nobody"), call(erase_data="maybe")]
    assert world.registry.acquire_lease("acme", owner="other", now=int(world.clock), seconds=300)
    answers.append(call())
    assert [status for status, _ in answers] == [503, 200, 200, 404, 400, 409]
    schema = {200: "Disconnected", 503: "DisconnectIncomplete", 404: "Error", 400: "Error", 409: "Error"}
    for status, body in answers:
        jsonschema.validate(body, _schema(schema[status]))
