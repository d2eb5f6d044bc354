"""The receiver keeps answering real Calendly deliveries when others misbehave: a flood of
forged connection ids (audit defect 1) and an AWS dependency that hangs (defect 6)."""

from __future__ import annotations

from typing import Any

from calsync import compose
from calsync.config import ConnectionSettings
from calsync.connections.records import Connection
from calsync_dev.events import signed_api_gateway_event
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from tests.factories import event_body
from tests.integration.conftest import Pipeline

REAL = [f"real{n}" for n in range(10)]


def register(services: compose.Connections, connection_id: str, key: str) -> None:
    """A connection as connect leaves it: its registry record and its signing key."""
    services.registry.register(
        Connection(
            connection_id=connection_id,
            kind="pat",
            status="active",
            organization="https://api.calendly.com/organizations/ORG",
            owner=None,
            callback_url=f"https://example.com/webhooks/calendly/{connection_id}",
            token_secret=services.tokens.secret_name(connection_id),
            signing_key_secret=services.signing_keys.secret_name(connection_id),
        ),
        now="2026-11-01T00:00:00Z",
    )
    services.signing_keys.put(connection_id, key)


def status(receiver: Any, body: bytes, key: str, connection_id: str) -> int:
    event = signed_api_gateway_event(body, key, connection_id=connection_id)
    response: dict[str, Any] = receiver(event, LambdaContext("receiver"))
    return int(response["statusCode"])


def test_a_fresh_receiver_flooded_with_forged_connection_ids_accepts_every_real_delivery(pipeline: Pipeline) -> None:
    # Given ten real connections, each registered with its own signing key
    env = pipeline.stack.functions["TokenRefresherFunction"].environment
    services = compose.connections(ConnectionSettings.from_env(env))
    for connection_id in REAL:
        register(services, connection_id, f"key-{connection_id}")
    # And a new receiver container flooded with signed-looking requests for 500 forged connection ids
    receiver = load_handler(pipeline.stack.functions["ReceiverFunction"], apply_environment=False)
    body = event_body("invitee_created.json")
    assert {status(receiver, body, "guessed", f"forged{n}") for n in range(500)} == {401}
    # When each real connection's first delivery arrives, correctly signed
    statuses = [status(receiver, body, f"key-{connection_id}", connection_id) for connection_id in REAL]
    # Then every one is accepted: the forged ids spent nothing a real connection's lookup needs
    assert statuses == [202] * len(REAL)
