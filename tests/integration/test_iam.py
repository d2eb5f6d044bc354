"""Every AWS request the delivery path makes is one the calling function's own role in
template.yaml allows: the action, the concrete resource (table, queue, secret, bus, schedule,
role passed) and its condition keys (the item's partition key, the service a role is passed
to). moto and the local stack do not check IAM, so a wrong ARN or key prefix would first show
in AWS: every invocation failing with AccessDenied (a stream batch retried 20 times, then
dead-lettered). Here: the fixture mix (receiver, processors, publisher), the scheduled functions'
idle runs, the reminders (schedules made and deleted, the role passed, a reminder firing) and the
consumers' back-off. The reconciler's, the connection functions' and the consumers' other
requests are checked beside their own tests (test_reconcile.py, test_connection_functions.py,
test_consumers.py); the services' side in tests/unit/tools/test_iam_template.py
(docs/iam-checks.md)."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from calsync_dev.cost.mix import Run, measure
from calsync_dev.lambda_runtime import LambdaContext, load_handler
from calsync_dev.provision import Stack
from tests.factories import event_json
from tests.iam import Call, checks, not_granted, recorded_calls
from tests.integration.conftest import Pipeline
from tests.integration.test_consumers import Sink, bus_event, sqs_records
from tests.integration.test_lifecycle import Lifecycle


@pytest.fixture(scope="module")
def mix_run() -> Run:
    return measure()


def test_every_request_the_delivery_path_makes_is_allowed_by_the_functions_own_role(mix_run: Run) -> None:
    # Given the fixture mix through receiver, processors, publisher and the reminders firing
    called = {
        function: [Call(service, operation, params) for service, operation, params in usage.calls]
        for function, usage in mix_run.usage.items()
    }
    assert {"ReceiverFunction", "InviteeCreatedProcessor", "LifecyclePublisherFunction"} <= set(called)
    # And among its requests, the ones whose resource or condition keys a policy can get wrong
    actions = {call.action for calls in called.values() for call in calls}
    assert {"sqs:SendMessage", "secretsmanager:GetSecretValue", "dynamodb:UpdateItem", "events:PutEvents"} <= actions
    # Then each function's role allows every request it made (and the role it passed, what the Scheduler does)
    assert {f: refused for f, calls in called.items() if (refused := not_granted(f, calls))} == {}


def test_the_scheduled_functions_idle_runs_are_allowed_by_their_own_roles(mix_run: Run) -> None:
    # Given the scheduled functions run once each (the refresher, the watchdog, the reconciler)
    called = {
        function: [Call(service, operation, params) for service, operation, params in usage.calls]
        for function, usage in mix_run.idle.items()
    }
    assert called
    # Then each function's role allows every request it made
    assert {f: refused for f, calls in called.items() if (refused := not_granted(f, calls))} == {}


def booking_starting(start: datetime) -> bytes:
    body = event_json("invitee_created.json")
    end = start + timedelta(minutes=30)
    body["payload"]["scheduled_event"].update(
        start_time=start.strftime("%Y-%m-%dT%H:%M:%S.000000Z"), end_time=end.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    )
    return json.dumps(body).encode()


def test_the_reminders_requests_are_allowed_the_role_passed_and_what_the_scheduler_does_with_it(
    pipeline: Pipeline,
) -> None:
    # Given a booking two days ahead of the publisher's clock, stored
    now = datetime.now(UTC)
    lifecycle = Lifecycle(pipeline, now)
    booking = booking_starting(now + timedelta(days=2))
    assert pipeline.post(booking)["statusCode"] == 202
    pipeline.drain()
    # When the publisher plans its reminders (schedules made with the reminder role passed)
    with recorded_calls() as published:
        lifecycle.source.drain()
    assert "scheduler:CreateSchedule" in published
    # And a reminder fires
    group = lifecycle.env["SCHEDULE_GROUP_NAME"]
    scheduler = boto3.client("scheduler")
    name = sorted(lifecycle.schedules())[0]
    payload = json.loads(scheduler.get_schedule(Name=name, GroupName=group)["Target"]["Input"])
    reminder = load_handler(pipeline.stack.functions["ReminderFunction"], apply_environment=False)
    with recorded_calls() as fired:
        reminder(payload, LambdaContext("ReminderFunction"))
    assert "events:PutEvents" in fired
    # And the booking is canceled (its schedules deleted)
    canceled = event_json("invitee_canceled.json")
    canceled["payload"]["scheduled_event"] = json.loads(booking)["payload"]["scheduled_event"]
    assert pipeline.post(json.dumps(canceled).encode())["statusCode"] == 202
    pipeline.drain()
    with recorded_calls() as dropped:
        lifecycle.source.drain()
    assert "scheduler:DeleteSchedule" in dropped
    assert lifecycle.schedules() == set()
    # Then the publisher may make and delete those schedules and pass that role (to the Scheduler
    # only), the role lets the Scheduler invoke the target (and write a dead-letter queue the
    # schedule names), and the reminder function may read the booking and publish
    made = {f"{c.role}: {c.request.action}" for c in checks("LifecyclePublisherFunction", published)}
    assert {
        "LifecyclePublisherFunctionRole: iam:PassRole",
        "ReminderSchedulerRole: lambda:InvokeFunction",
    } <= made
    assert not_granted("LifecyclePublisherFunction", published) == []
    assert not_granted("ReminderFunction", fired) == []
    assert not_granted("LifecyclePublisherFunction", dropped) == []


@pytest.mark.parametrize(
    ("function", "queue", "secret"),
    [
        ("SlackNotifierFunction", "SlackQueue", "SLACK_SECRET_NAME"),
        ("HttpForwarderFunction", "ForwardQueue", "FORWARD_SECRET_NAME"),
    ],
)
def test_a_consumers_back_off_on_a_failed_post_is_allowed_on_its_own_queue(
    stack: Stack, function: str, queue: str, secret: str
) -> None:
    # Given a consumer whose endpoint answers 500, and a record from its own queue
    sink = Sink()
    sink.status = 500
    try:
        spec = stack.functions[function]
        secrets = boto3.client("secretsmanager")
        name = spec.environment[secret]
        config = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
        secrets.put_secret_value(
            SecretId=name, SecretString=json.dumps({**config, "url": sink.url, "webhook_url": sink.url})
        )
        records = sqs_records(bus_event(), queue_arn=stack.queue_arns[queue])
        # When it fails to post and holds the message back (a batch failure or a raised error)
        with recorded_calls() as calls, contextlib.suppress(BatchProcessingError):
            load_handler(spec)(records, LambdaContext(function))
    finally:
        sink.server.shutdown()
    # Then the back-off is a request its role allows, on its own queue
    assert "sqs:ChangeMessageVisibility" in calls
    assert not_granted(function, calls) == []
