"""The receiver keeps answering real Calendly deliveries when others misbehave: a flood of
forged connection ids (audit defect 1) and an AWS dependency that hangs (defect 6)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from calsync import compose
from calsync.aws import clients
from calsync.config import ConnectionSettings
from calsync.connections.records import Connection
from calsync_dev.events import signed_api_gateway_event
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from tests.factories import KEY, event_body
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


class SilentServer:
    """Accepts TCP connections and reads what is sent, never answering (an AWS endpoint that
    hangs); counts the connections. Closed by the test, so it cannot outlive it."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections.append(conn)

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)
        for conn in self.connections:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging_sqs(monkeypatch: pytest.MonkeyPatch) -> Iterator[SilentServer]:
    server = SilentServer()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", server.url)
    clients.reset()
    yield server
    server.close()
    clients.reset()


def test_a_receiver_whose_queue_hangs_answers_503_within_five_seconds(
    pipeline: Pipeline, hanging_sqs: SilentServer
) -> None:
    # Given SQS accepts connections and never answers
    receiver = load_handler(pipeline.stack.functions["ReceiverFunction"], apply_environment=False)
    # When a correctly signed delivery arrives at a fresh receiver
    started = time.monotonic()
    response = receiver(signed_api_gateway_event(event_body("invitee_created.json"), KEY, connection_id="acme"), None)
    elapsed = time.monotonic() - started
    # Then it answers its own 503 (so Calendly retries) within its budget: well before Lambda's
    # 10 s timeout and Calendly's 15 s read timeout
    assert response["statusCode"] == 503
    assert json.loads(response["body"])["error"] == "unavailable"
    assert elapsed < clients.RECEIVER.worst_case_seconds + 1.0
    # And SQS was tried as often as the receiver's limits say, no more
    assert len(hanging_sqs.connections) == clients.RECEIVER.attempts
