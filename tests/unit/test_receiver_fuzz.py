"""Fuzzing the receiver's decision (``receive``) with in-memory ports: no AWS, no sockets.

Hypothesis varies path ids, headers, signatures, bodies and encodings; the properties hold for
every request: no 5xx unless a port failed, nothing enqueued that was not verified with the
connection's key over exactly the enqueued bytes, a 2xx means one enqueue, every 4xx says
``error`` and ``message``, and every enqueued delivery survives the queue message contract.
``make test`` runs a modest number of cases; ``make fuzz`` sets ``CALSYNC_FUZZ_EXAMPLES`` (total
≥ 10,000). The number of cases that ran is printed at the end of the module.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from calsync.intake.delivery import Delivery, delivery_from_message, message_attributes, message_body
from calsync.intake.receive import ReceiverLimits, WebhookRequest, receive
from tests.factories import fixture_bodies
from tests.fakes.intake import FakeDeliveryQueue, FakeSigningKeys

NOW = 1_800_000_000
LIMITS = ReceiverLimits(tolerance_seconds=180, max_body_bytes=4096)
KEYS: dict[str, tuple[bytes, ...]] = {
    "acme": (b"acme-current-key", b"acme-previous-key"),
    "other_co-2": (b"other-key",),
}
WRONG_KEY = b"not-anyones-key"
EXAMPLES = int(os.environ.get("CALSYNC_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SQS_ALLOWED = re.compile("^[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*$")
RAN: Counter[str] = Counter()
ANSWERS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_cases(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    total = sum(RAN.values())
    line = (
        f"receiver fuzz: {total} cases ran ({', '.join(f'{name} {n}' for name, n in sorted(RAN.items()))}); "
        f"answers: {', '.join(f'{answer} {n}' for answer, n in sorted(ANSWERS.items()))}"
    )
    capture = request.config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        print(line)
        return
    with capture.global_and_fixture_disabled():
        print(f"\n{line}")


# --- strategies ---------------------------------------------------------------------------------

# Text that includes what SQS refuses or rewrites, lone surrogates and controls, not only letters.
TRICKY = st.sampled_from(["\ud800", "\udfff", "\ud83d", "\ufffe", "\uffff", "\r", "\x00", "\x1b", "\u2028", "😀"])
TEXT = st.text(alphabet=st.one_of(st.characters(), TRICKY), max_size=40)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
EVENTS = st.sampled_from(
    [
        "invitee.created",
        "invitee.canceled",
        "invitee_no_show.created",
        "invitee_no_show.deleted",
        "routing_form_submission.created",
        "meeting_recap.created",
    ]
) | st.from_regex(r"\A[a-z_.]{1,30}\Z")
CREATED_AT = st.sampled_from(["2026-01-01T00:00:00Z", "2026-11-20T09:00:00.120000+01:00"] * 3 + ["yesterday", ""])
SURROGATE_ESCAPES = st.sampled_from(['"\\ud800"', '"x\\udc00y"', '"\\ud83d\\ude00"', '"\\\\ud800"'])


@st.composite
def envelope_texts(draw: st.DrawFn) -> str:
    """Mostly envelopes (some valid, some not quite), as JSON text, raw or ASCII-escaped."""
    envelope: dict[str, Any] = {"event": draw(EVENTS), "created_at": draw(CREATED_AT), "payload": {}}
    if draw(st.booleans()):
        envelope["payload"] = draw(st.dictionaries(TEXT, JSON_VALUES, max_size=5))
    if draw(st.booleans()):
        envelope["created_by"] = draw(st.sampled_from(["https://api.calendly.com/users/U1", "", None]))
    if draw(st.integers(0, 3)) == 0:  # now and then, a required field missing
        envelope.pop(draw(st.sampled_from(["event", "created_at", "payload"])))
    text = json.dumps(envelope, ensure_ascii=draw(st.booleans()))
    if draw(st.booleans()):  # a JSON-escaped (lone or paired) surrogate inside the payload
        text = text.replace("{", '{"s": ' + draw(SURROGATE_ESCAPES) + ", ", 1)
    return text


BODY_TEXTS = st.one_of(
    envelope_texts(),
    st.sampled_from(sorted(b.decode() for b in fixture_bodies().values())),
    TEXT,
    st.just(""),
    st.text(max_size=5000).map(lambda t: json.dumps({"event": "x.y", "created_at": "2026-01-01T00:00:00Z", "p": t})),
)
CONNECTION_IDS = st.one_of(
    st.sampled_from([*KEYS, "unknown-co", "ACME", "acme ", "../acme", "acme%2F..", "", "a" * 65]),
    st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,70}\Z"),
    TEXT,
    st.none(),
)
SIGNATURE_NAMES = st.sampled_from(
    ["Calendly-Webhook-Signature", "calendly-webhook-signature", "CALENDLY-WEBHOOK-SIGNATURE"]
)
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/cloudevents+json"]
) | st.one_of(st.none(), TEXT)


@dataclass(frozen=True)
class Case:
    request: WebhookRequest
    carried: bytes | None  # the bytes the request carries (None: its base64 does not decode)
    keys_fail: bool
    queue_fail: bool


def _hex(key: bytes, timestamp: int, raw: bytes) -> str:
    return hmac.new(key, b"%d." % timestamp + raw, hashlib.sha256).hexdigest()


@st.composite
def cases(draw: st.DrawFn) -> Case:
    connection = draw(CONNECTION_IDS)
    text = draw(BODY_TEXTS)
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates: bytes no UTF-8 decoder accepts
    encoding = draw(st.sampled_from(["text", "base64", "base64-garbled", "base64-flag-on-text"]))
    if encoding == "text":
        body: str | None = text if text or draw(st.booleans()) else None
        is_base64 = False
    elif encoding == "base64":
        body, is_base64 = base64.b64encode(raw).decode(), True
    elif encoding == "base64-garbled":
        encoded = base64.b64encode(raw).decode()
        cut = draw(st.integers(0, len(encoded)))
        body, is_base64 = encoded[:cut] + draw(st.sampled_from(["", "=", "%", "\n", "é", "A"])), True
    else:
        body, is_base64 = text, True
    carried: bytes | None = raw
    if encoding.startswith("base64-"):  # what the request really carries, if it decodes at all
        try:
            carried = base64.b64decode(body or "", validate=True)
        except ValueError:
            carried = None

    # Signed with the right key (current or previous), another connection's, a wrong one, or not at all
    key = draw(st.sampled_from([*KEYS["acme"], *KEYS["other_co-2"], WRONG_KEY]))
    timestamp = NOW + draw(st.sampled_from([0, -1, 179, -180, 181, -181, 86_400, -NOW]) | st.integers(-500, 500))
    signed_over = raw if draw(st.integers(0, 9)) else raw + b" "  # sometimes over other bytes
    v1 = [_hex(key, timestamp, signed_over)]
    v1 += draw(st.lists(st.sampled_from(["00" * 32, "zz", "ab", _hex(WRONG_KEY, timestamp, raw)]), max_size=2))
    v1 = draw(st.permutations(v1))
    signature = ",".join([f"t={timestamp}", *(f"v1={v}" for v in v1)])
    signature = draw(
        st.sampled_from([signature, signature + ",v0=abc", f"v1={v1[0]},t={timestamp}"])
        | st.just(signature).map(lambda s: s.replace("t=", "t= "))
        | TEXT
    )
    headers: dict[str, str] = draw(st.dictionaries(TEXT, TEXT, max_size=3))
    if draw(st.integers(0, 9)):
        headers[draw(SIGNATURE_NAMES)] = signature
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers[draw(st.sampled_from(["Content-Type", "content-type"]))] = content_type
    return Case(
        request=WebhookRequest(connection, headers, body, is_base64),
        carried=carried,
        keys_fail=draw(st.integers(0, 19)) == 0,
        queue_fail=draw(st.integers(0, 19)) == 0,
    )


# --- properties ---------------------------------------------------------------------------------


def _verified(request: WebhookRequest, delivery: Delivery) -> bool:
    """Independently of the receiver: the header's timestamp is fresh and one of its v1 values
    is the HMAC of exactly the delivered bytes under one of this connection's own keys."""
    header = request.header("calendly-webhook-signature") or ""
    parts = [p.strip().partition("=") for p in header.split(",")]
    stamps = [int(v) for n, _, v in parts if n == "t" and v.isascii() and v.isdigit()]
    if len(stamps) != 1 or abs(NOW - stamps[0]) > LIMITS.tolerance_seconds:
        return False
    delivered = delivery.body.encode()
    expected = {_hex(key, stamps[0], delivered) for key in KEYS.get(delivery.connection_id, ())}
    return any(n == "v1" and v in expected for n, _, v in parts)


def check(case: Case) -> None:
    keys, queue = FakeSigningKeys(KEYS, fail=case.keys_fail), FakeDeliveryQueue(fail=case.queue_fail)
    outcome = receive(case.request, keys=keys, queue=queue, limits=LIMITS, now=NOW)

    ANSWERS[f"{outcome.status} {outcome.error or 'accepted'}"] += 1
    assert outcome.status in {202, 400, 401, 413, 415, 503}
    # Never a 5xx on bad input: only when a port failed
    if outcome.status >= 500:
        assert case.keys_fail or (case.queue_fail and queue.attempts)
    # A 2xx is exactly one enqueue; a 4xx none; a 503 at most the one the queue refused
    if outcome.accepted:
        assert len(queue.attempts) == 1
        assert outcome.body() == {"status": "accepted"}
    else:
        assert len(queue.attempts) == (1 if outcome.status == 503 and not case.keys_fail else 0)
        answer = outcome.body()
        assert set(answer) == {"error", "message"}
        assert answer["error"]
        assert answer["message"]
    # Every body the receiver tried to enqueue was verified, with this connection's key, over exactly
    # those bytes, which are the bytes that arrived
    for kind, delivery in queue.attempts:
        assert delivery.connection_id == case.request.connection_id
        assert _verified(case.request, delivery)
        assert delivery.body.encode() == case.carried
        assert delivery.body_sha256 == hashlib.sha256(delivery.body.encode()).hexdigest()
        assert kind is outcome.queue
        # And it survives the queue: a body SQS accepts, rebuilt byte for byte
        message = message_body(delivery)
        assert SQS_ALLOWED.match(message)
        attributes = {k: {"stringValue": v} for k, v in message_attributes(delivery).items()}
        assert delivery_from_message(message, attributes) == delivery
    # No answer or log detail carries key material
    said = json.dumps(outcome.body()) + outcome.detail
    assert not any(key.decode() in said for keys_of in KEYS.values() for key in keys_of)


@FUZZ
@given(cases())
def test_any_request_gets_a_sound_answer(case: Case) -> None:
    # Given any request (id, headers, signature, body, encoding; ports failing now and then)
    # When it is received, Then the answer and anything enqueued obey every property of ``check``
    RAN["requests"] += 1
    check(case)


@FUZZ
@given(st.sampled_from(sorted(KEYS)), envelope_texts(), st.booleans(), st.sampled_from([*KEYS["acme"], WRONG_KEY]))
def test_well_signed_envelopes_are_accepted_or_refused_for_their_content(
    connection: str, text: str, as_base64: bool, key: bytes
) -> None:
    # Given an envelope signed now (mostly with a key of the connection): the cases that reach parsing
    # When it is received, Then the answer and anything enqueued obey every property of ``check``
    RAN["signed envelopes"] += 1
    raw = text.encode("utf-8", "surrogatepass")
    headers = {"Calendly-Webhook-Signature": f"t={NOW},v1={_hex(key, NOW, raw)}", "Content-Type": "application/json"}
    body = base64.b64encode(raw).decode() if as_base64 else text
    case = Case(WebhookRequest(connection, headers, body, as_base64), raw, keys_fail=False, queue_fail=False)
    check(case)


@FUZZ
@given(st.sampled_from(sorted(fixture_bodies().values())), st.sampled_from(sorted(KEYS)), st.booleans())
def test_every_real_delivery_signed_by_its_connection_is_accepted(
    body: bytes, connection: str, as_base64: bool
) -> None:
    # Given a real Calendly body signed now by the connection (previous key), raw or base64
    RAN["real deliveries"] += 1
    key = KEYS[connection][-1]
    headers = {"Calendly-Webhook-Signature": f"t={NOW},v1={_hex(key, NOW, body)}"}
    text = base64.b64encode(body).decode() if as_base64 else body.decode()
    queue = FakeDeliveryQueue()
    outcome = receive(
        WebhookRequest(connection, headers, text, as_base64),
        keys=FakeSigningKeys(KEYS),
        queue=queue,
        limits=ReceiverLimits(),
        now=NOW,
    )
    # Then it is accepted and enqueued byte for byte
    assert outcome.status == 202
    [(_, delivery)] = queue.attempts
    assert delivery.body.encode() == body
