"""Every AWS request the delivery path makes is one the calling function's own role in
template.yaml allows: the action, the concrete resource (table, queue, secret, bus, schedule,
role passed) and its condition keys (the item's partition key, the service a role is passed
to). moto and the local stack do not check IAM, so a wrong ARN or key prefix would first show
in AWS: every invocation failing with AccessDenied (a stream batch retried 20 times, then
dead-lettered). The reconciler's, the connection functions' and the consumers' requests are
checked beside their own tests (test_reconcile.py, test_connection_functions.py,
test_consumers.py); the event sources' side in tests/unit/tools/test_iam_template.py."""

from __future__ import annotations

import pytest

from calsync_dev.cost.mix import Run, measure
from tests.iam import Call, not_granted


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
