"""The receiver's decisions, with in-memory ports: no AWS, no sockets."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence

import pytest

from calsync.errors import DependencyUnavailable
from calsync.webhooks.delivery import Delivery
from calsync.webhooks.receiver import ReceiverLimits, WebhookRequest, receive
from calsync.webhooks.routing import QueueKind
from calsync.webhooks.signature import sign_header
from tests.factories import KEY, event_body, fixture_bodies

NOW = 1_800_000_000


class Keys:
    def __init__(self, keys: dict[str, Sequence[bytes]], fail: bool = False) -> None:
        self.keys = keys
        self.fail = fail

    def keys_for(self, connection_id: str) -> Sequence[bytes] | None:
        if self.fail:
            raise DependencyUnavailable("secretsmanager:GetSecretValue failed: ThrottlingException")
        return self.keys.get(connection_id)

    def refresh(self, connection_id: str) -> Sequence[bytes] | None:
        return None  # the keys never change here (rotation: tests/unit/test_signing_keys.py)


class Queue:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[QueueKind, Delivery]] = []
        self.fail = fail

    def send(self, kind: QueueKind, delivery: Delivery) -> None:
        if self.fail:
            raise DependencyUnavailable("sqs:SendMessage failed: ServiceUnavailable")
        self.sent.append((kind, delivery))


def request(
    body: bytes,
    *,
    key: str = KEY,
    at: int = NOW,
    connection: str = "acme",
    base64_encoded: bool = False,
    headers: dict[str, str] | None = None,
) -> WebhookRequest:
    all_headers = {
        "Calendly-Webhook-Signature": sign_header(key.encode(), body, at),
        "Content-Type": "application/json",
    }
    all_headers.update(headers or {})
    text = base64.b64encode(body).decode() if base64_encoded else body.decode()
    return WebhookRequest(connection, all_headers, text, base64_encoded)


def run(req: WebhookRequest, keys: Keys | None = None, queue: Queue | None = None, max_body: int = 131_072):
    keys = keys or Keys({"acme": [KEY.encode()]})
    queue = queue if queue is not None else Queue()
    outcome = receive(req, keys=keys, queue=queue, limits=ReceiverLimits(180, max_body), now=NOW)
    return outcome, queue


@pytest.mark.parametrize("name", sorted(fixture_bodies()))
def test_every_signed_fixture_is_accepted_and_enqueued_unchanged(name: str) -> None:
    # Given a real Calendly body signed with the connection's key
    body = fixture_bodies()[name]
    # When it is received
    outcome, queue = run(request(body))
    # Then it is accepted, and the queue holds the exact bytes that were signed
    assert outcome.status == 202
    assert outcome.body() == {"status": "accepted"}
    [(kind, delivery)] = queue.sent
    assert delivery.body.encode() == body
    assert delivery.connection_id == "acme"
    assert kind is not QueueKind.OTHER


def test_base64_bodies_are_verified_over_the_decoded_bytes() -> None:
    body = event_body("invitee_created.json")
    outcome, queue = run(request(body, base64_encoded=True))
    assert outcome.status == 202
    assert queue.sent[0][1].body.encode() == body


def test_the_previous_key_still_verifies_during_rotation() -> None:
    keys = Keys({"acme": [b"new-key", KEY.encode()]})
    outcome, _ = run(request(event_body("invitee_created.json")), keys=keys)
    assert outcome.status == 202


def test_unknown_events_are_accepted_into_the_other_queue() -> None:
    outcome, queue = run(request(event_body("unknown_event.json")))
    assert outcome.status == 202
    assert queue.sent[0][0] is QueueKind.OTHER


@pytest.mark.parametrize(
    ("mutate", "status", "error"),
    [
        (
            lambda r: WebhookRequest(r.connection_id, {"Content-Type": "application/json"}, r.body),
            401,
            "missing_signature",
        ),
        (
            lambda r: WebhookRequest(r.connection_id, {"Calendly-Webhook-Signature": "t=x"}, r.body),
            401,
            "malformed_signature",
        ),
        (lambda r: WebhookRequest(r.connection_id, r.headers, (r.body or "") + " "), 401, "invalid_signature"),
        (lambda r: WebhookRequest("nobody", r.headers, r.body), 401, "invalid_signature"),
        (lambda r: WebhookRequest("../etc", r.headers, r.body), 401, "invalid_signature"),
        (lambda r: WebhookRequest(None, r.headers, r.body), 401, "invalid_signature"),
    ],
)
def test_unsigned_tampered_or_unknown_requests_are_401_and_nothing_is_enqueued(mutate, status, error) -> None:  # type: ignore[no-untyped-def]
    outcome, queue = run(mutate(request(event_body("invitee_created.json"))))
    assert (outcome.status, outcome.error) == (status, error)
    assert queue.sent == []


def test_an_unknown_connection_looks_exactly_like_a_bad_signature_to_the_caller() -> None:
    unknown, _ = run(request(event_body("invitee_created.json"), connection="nobody"))
    tampered, _ = run(request(event_body("invitee_created.json"), key="wrong-key"))
    assert unknown.body() == tampered.body()
    assert unknown.detail != tampered.detail  # only the log knows which it was


@pytest.mark.parametrize("age", [181, -181, 86_400])
def test_replayed_or_future_timestamps_are_401_stale(age: int) -> None:
    outcome, queue = run(request(event_body("invitee_created.json"), at=NOW - age))
    assert (outcome.status, outcome.error) == (401, "stale_timestamp")
    assert queue.sent == []


def test_a_body_over_the_cap_is_413_before_anything_else() -> None:
    body = json.dumps({"event": "x", "created_at": "2026-01-01T00:00:00Z", "payload": {"p": "a" * 2000}}).encode()
    outcome, queue = run(request(body), max_body=1000)
    assert (outcome.status, outcome.error) == (413, "payload_too_large")
    assert queue.sent == []


def test_bad_base64_is_400() -> None:
    req = request(b"{}")
    outcome, _ = run(WebhookRequest("acme", req.headers, "%%%not-base64%%%", True))
    assert (outcome.status, outcome.error) == (400, "bad_encoding")


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[]", "invalid_envelope"),
        (b'{"event": 5, "created_at": "2026-01-01T00:00:00Z", "payload": {}}', "invalid_envelope"),
        (b'{"event": "invitee.created", "created_at": "yesterday", "payload": {}}', "invalid_envelope"),
        (b'{"event": "invitee.created", "created_at": "2026-01-01T00:00:00Z", "payload": []}', "invalid_envelope"),
        (b"", "invalid_json"),
        # a time that exists in its own offset but not in UTC (before year 1): a 400, never a crash
        (b'{"event": "invitee.created", "created_at": "0001-01-01T00:00:00+05:00", "payload": {}}', "invalid_envelope"),
    ],
)
def test_signed_bodies_that_are_not_an_envelope_are_400_with_a_reason(body: bytes, error: str) -> None:
    # Given a correctly signed body that is not a webhook envelope (binary bodies arrive base64-encoded)
    outcome, queue = run(request(body, base64_encoded=True))
    assert (outcome.status, outcome.error) == (400, error)
    assert outcome.message
    assert queue.sent == []


def test_a_non_json_content_type_is_415() -> None:
    outcome, queue = run(request(event_body("invitee_created.json"), headers={"Content-Type": "text/plain"}))
    assert (outcome.status, outcome.error) == (415, "unsupported_media_type")
    assert queue.sent == []


def test_key_store_failure_is_503_so_calendly_retries() -> None:
    outcome, _queue = run(request(event_body("invitee_created.json")), keys=Keys({}, fail=True))
    assert (outcome.status, outcome.error) == (503, "unavailable")


def test_queue_failure_is_503_never_2xx() -> None:
    outcome, _ = run(request(event_body("invitee_created.json")), queue=Queue(fail=True))
    assert (outcome.status, outcome.error) == (503, "unavailable")


def test_no_response_leaks_the_key_or_the_expected_signature() -> None:
    from calsync.webhooks.signature import compute_signature

    body = event_body("invitee_created.json")
    expected = compute_signature(KEY.encode(), NOW, body).hex()
    for req in (request(body, key="wrong"), request(body, at=NOW - 999), request(b"nope")):
        outcome, _ = run(req)
        text = json.dumps(outcome.body()) + outcome.detail
        assert KEY not in text
        assert expected not in text


def _envelope_with(text: str) -> bytes:
    """A valid envelope whose payload carries ``text`` (its UTF-8 bytes kept raw, not escaped)."""
    envelope = {"event": "meeting_recap.created", "created_at": "2026-01-01T00:00:00Z", "payload": {"note": text}}
    return json.dumps(envelope, ensure_ascii=False).encode()


@pytest.mark.parametrize("text", ["\ufffe", "\uffff", "a\ufffeb\uffffc", "tab\there \U0001f600"])
def test_signed_bodies_with_characters_sqs_refuses_are_accepted_and_enqueued_unchanged(text: str) -> None:
    # Given a signed envelope holding noncharacters (valid UTF-8 that SQS would refuse)
    body = _envelope_with(text)
    # When it is received
    outcome, queue = run(request(body))
    # Then it is accepted and the enqueued delivery holds exactly the signed bytes
    assert outcome.status == 202
    [(_, delivery)] = queue.sent
    assert delivery.body.encode() == body


def test_a_signed_lone_surrogate_escape_is_accepted_and_enqueued_unchanged() -> None:
    # Given a signed body whose JSON escapes a lone surrogate (valid JSON grammar; a truncated emoji)
    body = b'{"event": "invitee.created", "created_at": "2026-01-01T00:00:00Z", "payload": {"name": "x\\ud83d"}}'
    # When it is received
    outcome, queue = run(request(body))
    # Then it is accepted, not refused as invalid JSON (Calendly would never redeliver it)
    assert outcome.status == 202
    [(_, delivery)] = queue.sent
    assert delivery.body.encode() == body


def test_a_raw_lone_surrogate_in_the_body_text_is_400_not_a_crash() -> None:
    # Given API Gateway hands over text holding a lone surrogate (no UTF-8 byte sequence has one),
    # signed over the bytes such text would have been sent as
    text = '{"event": "invitee.created", "created_at": "2026-01-01T00:00:00Z", "payload": {"n": "\ud800"}}'
    raw = text.encode("utf-8", "surrogatepass")
    headers = {"Calendly-Webhook-Signature": sign_header(KEY.encode(), raw, NOW), "Content-Type": "application/json"}
    # When it is received
    outcome, queue = run(WebhookRequest("acme", headers, text))
    # Then it is a clear 400, nothing is enqueued
    assert (outcome.status, outcome.error) == (400, "invalid_json")
    assert queue.sent == []
    # And unsigned, the same text is a 401 (verification still comes first)
    unsigned, queue = run(WebhookRequest("acme", {**headers, "Calendly-Webhook-Signature": "t=1,v1=00"}, text))
    assert unsigned.status == 401
    assert queue.sent == []
