"""The Slack notifier and the signed HTTP forwarder, as deployed: their handlers with the
template's environment and secrets, posting to a real HTTP endpoint on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from calsync.lifecycle.derive import derive
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from calsync_dev.provision import Stack
from tests.fakes.lifecycle import FakeImages
from tests.iam import not_granted, recorded_calls
from tests.unit.lifecycle.test_derive import invitee


class Sink:
    """An HTTP endpoint that records what it is sent and answers ``status``."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.statuses: list[int] = []  # the answers to the next requests, in order (then ``status``)
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                sink.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(sink.statuses.pop(0) if sink.statuses else sink.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def sink() -> Iterator[Sink]:
    found = Sink()
    yield found
    found.server.shutdown()


def bus_event() -> dict[str, Any]:
    (event,) = derive(None, invitee(), FakeImages())
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "id": "e1",
        "source": "calsync",
        "detail-type": event.detail_type.value,
        "time": now,
        "detail": event.detail,
    }


def sqs_records(
    *events: dict[str, Any], queue_arn: str = "arn:aws:sqs:us-east-1:123456789012:calsync-dev-consumer"
) -> dict[str, Any]:
    """What the consumer's queue hands its function: the EventBridge events as message bodies
    (from ``queue_arn``: a failed record's back-off acts on it, so IAM checks need the real one)."""
    return {
        "Records": [
            {
                "messageId": f"m{i}",
                "receiptHandle": f"r{i}",
                "body": json.dumps(event),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
            }
            for i, event in enumerate(events)
        ]
    }


def test_slack_gets_a_readable_message_without_the_fields_it_may_not_show(stack: Stack, sink: Sink) -> None:
    # Given the Slack secret holds the webhook URL (the template's default shows only names)
    spec = stack.functions["SlackNotifierFunction"]
    secret = spec.environment["SLACK_SECRET_NAME"]
    boto3.client("secretsmanager").put_secret_value(SecretId=secret, SecretString=json.dumps({"webhook_url": sink.url}))
    handler = load_handler(spec)
    # When a booking event arrives
    with recorded_calls() as calls:
        answer = handler(sqs_records(bus_event()), LambdaContext("SlackNotifierFunction"))
    # Then Slack got one message naming the invitee but not their e-mail
    assert answer == {"batchItemFailures": []}
    assert calls
    assert not_granted("SlackNotifierFunction", calls) == []
    ((_, body),) = sink.requests
    assert "booked by Ada" in json.loads(body)["text"]
    assert "ada@example.com" not in body.decode()


def slack(stack: Stack, sink: Sink) -> Any:
    """The Slack notifier as deployed, its secret holding the sink's URL."""
    spec = stack.functions["SlackNotifierFunction"]
    boto3.client("secretsmanager").put_secret_value(
        SecretId=spec.environment["SLACK_SECRET_NAME"], SecretString=json.dumps({"webhook_url": sink.url})
    )
    handler = load_handler(spec)
    queue_arn = stack.queue_arns["SlackQueue"]
    return lambda *events: handler(sqs_records(*events, queue_arn=queue_arn), LambdaContext("SlackNotifierFunction"))


def forwarder(stack: Stack, sink: Sink) -> Any:
    """The HTTP forwarder as deployed, its secret holding the sink's URL."""
    spec = stack.functions["HttpForwarderFunction"]
    secrets, name = boto3.client("secretsmanager"), spec.environment["FORWARD_SECRET_NAME"]
    config = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps({**config, "url": sink.url}))
    handler = load_handler(spec)
    queue_arn = stack.queue_arns["ForwardQueue"]
    return lambda *events: handler(sqs_records(*events, queue_arn=queue_arn), LambdaContext("HttpForwarderFunction"))


def other_booking(n: int) -> dict[str, Any]:
    """Another booking's event (its own event_id)."""
    event = bus_event()
    event["detail"] = {**event["detail"], "event_id": f"{n:032x}"}
    return event


def test_a_slack_failure_is_reported_for_that_record_alone_and_the_function_does_not_fail(
    stack: Stack, sink: Sink
) -> None:
    # Given Slack answers 500 to the second of three posts
    notify = slack(stack, sink)
    sink.statuses = [200, 500, 200]
    # When a batch of three events arrives
    with recorded_calls() as calls:
        answer = notify(other_booking(1), other_booking(2), other_booking(3))
    # Then only that record is reported for retry, the others are done, and the function returned
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert len(sink.requests) == 3
    assert not_granted("SlackNotifierFunction", calls) == []


def test_a_slack_outage_fails_every_record_but_not_the_function(stack: Stack, sink: Sink) -> None:
    # Given Slack is down
    notify = slack(stack, sink)
    sink.status = 500
    # When a batch arrives, every record is reported for retry (then dead-lettered), and the
    # function does not raise: its Errors metric (the crash alarm) stays for crashes
    answer = notify(other_booking(1), other_booking(2))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m1"}]}
    assert len(sink.requests) == 2


def test_slack_posts_an_event_the_publisher_put_twice_once(stack: Stack, sink: Sink) -> None:
    # Given the publisher put the same event twice (a crash after part of its batch was on the bus)
    notify = slack(stack, sink)
    event = bus_event()
    # When both copies arrive, in one batch and then in another
    with recorded_calls() as calls:
        first = notify(event, {**event, "id": "e2"})
        again = notify({**event, "id": "e3"})
    # Then Slack got one message
    assert first == again == {"batchItemFailures": []}
    assert len(sink.requests) == 1
    assert not_granted("SlackNotifierFunction", calls) == []


def test_a_failed_slack_post_leaves_no_claim_so_the_retry_posts(stack: Stack, sink: Sink) -> None:
    # Given Slack fails the first post
    notify = slack(stack, sink)
    sink.statuses = [500]
    event = bus_event()
    assert notify(event) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    # When the queue delivers the message again
    assert notify(event) == {"batchItemFailures": []}
    # Then it is posted, and a later copy is not
    assert notify(event) == {"batchItemFailures": []}
    assert len(sink.requests) == 2


def test_an_event_whose_other_copy_is_being_posted_is_retried_later_not_posted(stack: Stack, sink: Sink) -> None:
    from calsync.lifecycle.aws_ledger import DynamoLedger

    # Given another copy of the event holds a live claim (its Slack post in flight)
    notify = slack(stack, sink)
    event = bus_event()
    table = stack.functions["SlackNotifierFunction"].environment["BOOKINGS_TABLE_NAME"]
    ledger = DynamoLedger(table, "slack")
    ledger.claim(event["detail"]["event_id"], claimant="other-message", now=datetime.now(UTC))
    # When this copy arrives, it is retried later, not posted
    assert notify(event) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert sink.requests == []
    # And once the other copy was sent, it is skipped
    ledger.confirm(event["detail"]["event_id"], claimant="other-message")
    assert notify(event) == {"batchItemFailures": []}
    assert sink.requests == []


def test_a_claim_left_pending_by_a_crash_is_taken_over_once_its_lease_ran_out(stack: Stack) -> None:
    from datetime import timedelta

    from calsync.lifecycle.aws_ledger import DynamoLedger
    from calsync.lifecycle.once import LEASE, Claim

    ledger = DynamoLedger(stack.functions["SlackNotifierFunction"].environment["BOOKINGS_TABLE_NAME"], "slack")
    now = datetime(2030, 1, 1, tzinfo=UTC)
    # Given a message claimed an event and crashed before it confirmed or released it
    assert ledger.claim("e" * 32, claimant="crashed", now=now) is Claim.TAKEN
    # Then the same message's retry takes it at once; another message only after the lease
    assert ledger.claim("e" * 32, claimant="crashed", now=now + timedelta(seconds=1)) is Claim.TAKEN
    assert ledger.claim("e" * 32, claimant="other", now=now + LEASE / 2) is Claim.HELD
    assert ledger.claim("e" * 32, claimant="other", now=now + LEASE + timedelta(seconds=2)) is Claim.TAKEN
    # And the consumers' claims are separate: the forwarder's is its own
    assert DynamoLedger(ledger.table_name, "forward").claim("e" * 32, claimant="x", now=now) is Claim.TAKEN


def test_the_forwarder_posts_events_a_standard_webhooks_verifier_accepts(stack: Stack, sink: Sink) -> None:
    # Given the forwarding secret (its signing secret generated by the stack) points at an endpoint
    spec = stack.functions["HttpForwarderFunction"]
    secrets = boto3.client("secretsmanager")
    name = spec.environment["FORWARD_SECRET_NAME"]
    config = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    assert config["signing_secret"]
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps({**config, "url": sink.url}))
    # When an event is forwarded
    event = bus_event()
    with recorded_calls() as calls:
        answer = load_handler(spec)(sqs_records(event), LambdaContext("HttpForwarderFunction"))
    assert calls
    assert not_granted("HttpForwarderFunction", calls) == []
    # Then the endpoint's Standard Webhooks library verifies it with the shared secret
    assert answer == {"batchItemFailures": []}
    ((headers, body),) = sink.requests
    payload = Webhook(config["signing_secret"]).verify(body, headers)
    assert payload["type"] == "Booking Scheduled"
    assert headers["webhook-id"] == event["detail"]["event_id"]


def test_an_unconfigured_forwarder_fails_each_record_loudly_not_silently(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    spec = stack.functions["HttpForwarderFunction"]
    answer = load_handler(spec)(sqs_records(bus_event()), LambdaContext("HttpForwarderFunction"))
    # The record is retried (then dead-lettered, alarmed), and the log says why
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert [(r.getMessage(), getattr(r, "error", None)) for r in caplog.records] == [
        ("event not forwarded", "NotConfigured")
    ]


def test_the_forwarder_forwards_an_event_the_publisher_put_twice_once_and_retries_a_failed_one(
    stack: Stack, sink: Sink
) -> None:
    # Given the endpoint fails the first post of one event
    post = forwarder(stack, sink)
    sink.statuses = [200, 503]
    event, failing = bus_event(), other_booking(7)
    # When two copies of an event and the failing one arrive in one batch, then all again
    with recorded_calls() as calls:
        first = post(event, {**event, "id": "e2"}, failing)
        again = post({**event, "id": "e3"}, failing)
    # Then the first event was forwarded once, and the failed one on its retry
    assert first == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert again == {"batchItemFailures": []}
    assert [headers["webhook-id"] for headers, _ in sink.requests] == [
        event["detail"]["event_id"],
        failing["detail"]["event_id"],
        failing["detail"]["event_id"],
    ]
    assert not_granted("HttpForwarderFunction", calls) == []
