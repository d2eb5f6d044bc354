"""The receiver's decisions, with in-memory ports (tests/fakes/intake.py): no AWS, no sockets."""

from __future__ import annotations

import base64
import json

import pytest

from calsync.intake.receive import (
    LAMBDA_PAYLOAD_BYTES,
    MAX_BODY_BYTES,
    ReceiverLimits,
    WebhookRequest,
    event_size,
    receive,
)
from calsync.intake.routing import QueueKind
from calsync.intake.signature import sign_header
from tests.factories import KEY, event_body, event_json, fixture_bodies, padded
from tests.fakes.intake import FakeDeliveryQueue, FakeSigningKeys

NOW = 1_800_000_000


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


def run(
    req: WebhookRequest,
    keys: FakeSigningKeys | None = None,
    queue: FakeDeliveryQueue | None = None,
    max_body: int | None = None,
):
    keys = keys or FakeSigningKeys({"acme": [KEY]})
    queue = queue if queue is not None else FakeDeliveryQueue()
    limits = ReceiverLimits(180) if max_body is None else ReceiverLimits(180, max_body)
    outcome = receive(req, keys=keys, queue=queue, limits=limits, now=NOW)
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
    keys = FakeSigningKeys({"acme": ["new-key", KEY]})
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


@pytest.mark.parametrize("connection_id", ["acme\n", "acme\r\n", "ac me", "acme/x"])
def test_a_malformed_connection_id_is_refused_before_any_key_lookup(connection_id: str) -> None:
    # Given a delivery to an id calsync could never have registered (a trailing newline included)
    outcome, queue = run(
        WebhookRequest(
            connection_id,
            request(event_body("invitee_created.json")).headers,
            request(event_body("invitee_created.json")).body,
        )
    )
    # Then it is refused as a bad signature without asking the registry or Secrets Manager
    assert (outcome.status, outcome.detail) == (401, "connection id is not well-formed")
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


@pytest.mark.parametrize("size", [200 * 1024, 5 * 1024 * 1024], ids=["200KiB", "5MiB"])
def test_a_large_signed_delivery_is_accepted_whole(size: int) -> None:
    # Given a signed delivery far over the old 128 KiB cap (Calendly retries a 413 for 24 hours,
    # then disables the subscription)
    body = padded("invitee_created.json", size)
    # When it is received with the receiver's own limits
    outcome, queue = run(request(body))
    # Then it is accepted and the exact signed bytes are enqueued
    assert (outcome.status, outcome.body()) == (202, {"status": "accepted"})
    [(kind, delivery)] = queue.sent
    assert kind is QueueKind.INVITEE_CREATED
    assert delivery.body.encode() == body


def many_short_strings(size: int) -> bytes:
    """A body of ``size`` bytes that is mostly short JSON strings (each escapes a third larger)."""
    data = event_json("invitee_created.json")
    data["payload"]["tags"] = []
    short = len(json.dumps(data).encode())
    data["payload"]["tags"] = ["ok"] * ((size - short) // 6)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    "body",
    [padded("invitee_created.json", 6 * 1024 * 1024), many_short_strings(5_000_000)],
    ids=["6MiB", "5MB-escaping-to-6.6MB"],
)
def test_a_body_lambda_could_not_receive_is_413_with_the_reason(body: bytes) -> None:
    # Given a signed body that, JSON-escaped in API Gateway's Lambda event, is over the most
    # Lambda's 6 MB invocation payload leaves for it
    assert event_size(body.decode()) > MAX_BODY_BYTES
    # When it is received
    outcome, queue = run(request(body))
    # Then the answer is 413 with a JSON reason that names the real limit, and nothing is enqueued
    assert (outcome.status, outcome.error) == (413, "payload_too_large")
    assert f"at most {MAX_BODY_BYTES} fit Lambda's 6 MB invocation payload" in outcome.body()["message"]
    assert queue.sent == []


def test_the_largest_body_lambda_can_receive_is_accepted() -> None:
    # Given a body whose escaped size is exactly the maximum
    body = padded("invitee_created.json", MAX_BODY_BYTES)
    body = padded("invitee_created.json", MAX_BODY_BYTES - (event_size(body.decode()) - MAX_BODY_BYTES))
    assert event_size(body.decode()) == MAX_BODY_BYTES
    # When it is received, Then it is accepted
    outcome, _ = run(request(body))
    assert outcome.status == 202


def test_the_receivers_settings_default_to_the_maximum() -> None:
    from calsync.config import ReceiverSettings

    assert ReceiverSettings.model_fields["max_body_bytes"].default == MAX_BODY_BYTES == ReceiverLimits().max_body_bytes


def test_the_maximum_leaves_room_for_the_largest_request_api_gateway_passes() -> None:
    # Given API Gateway's largest request line and headers (10,240 bytes), in its proxy event
    # twice (headers, multiValueHeaders) beside the request context
    from calsync_dev.events import proxy_event

    headers = {f"X-Header-{n:03}": "v" * 85 for n in range(100)}
    event = proxy_event(
        method="POST",
        resource="/webhooks/calendly/{connection_id}",
        path="/webhooks/calendly/" + "c" * 64,
        path_parameters={"connection_id": "c" * 64},
        headers=headers,
        query=None,
        body=b"",
    )
    # When its largest body is added, Then the whole event fits Lambda's invocation payload
    assert len(json.dumps(event).encode()) + MAX_BODY_BYTES < LAMBDA_PAYLOAD_BYTES
    assert LAMBDA_PAYLOAD_BYTES == 6 * 1024 * 1024


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
    outcome, _queue = run(request(event_body("invitee_created.json")), keys=FakeSigningKeys(fail=True))
    assert (outcome.status, outcome.error) == (503, "unavailable")


def test_queue_failure_is_503_never_2xx() -> None:
    outcome, _ = run(request(event_body("invitee_created.json")), queue=FakeDeliveryQueue(fail=True))
    assert (outcome.status, outcome.error) == (503, "unavailable")


def test_no_response_leaks_the_key_or_the_expected_signature() -> None:
    from calsync.intake.signature import compute_signature

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


def test_a_removed_connection_is_410_gone_and_nothing_is_enqueued() -> None:
    # Given a connection that was disconnected (its registry record is `removed`, its keys gone)
    keys = FakeSigningKeys({"acme": [KEY]})
    keys.removed.add("gone")
    # When Calendly delivers to it, signed as ever
    outcome, queue = run(request(event_body("invitee_created.json"), connection="gone"), keys=keys)
    # Then the answer is 410 Gone with a JSON reason (Calendly deletes a subscription that gets 410)
    assert outcome.status == 410
    assert outcome.body()["error"] == "gone"
    # And nothing is enqueued, and no signing key was looked up for it
    assert queue.sent == []
    assert "gone" not in keys.looked_up
