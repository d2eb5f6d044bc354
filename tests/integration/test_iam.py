"""Every AWS call the delivery path makes is one the calling function's own IAM policy in
template.yaml grants. moto and the local stack do not check IAM, so a missing permission would
first show in AWS: every invocation failing with AccessDenied (a stream batch retried 20 times,
then dead-lettered). The reconciler's calls are checked in test_reconcile.py."""

from __future__ import annotations

import pytest

from calsync_dev.cost.mix import Run, measure
from tests.iam import action, not_granted


@pytest.fixture(scope="module")
def mix_run() -> Run:
    return measure()


def test_every_call_the_delivery_path_makes_is_granted_by_the_functions_own_policy(mix_run: Run) -> None:
    # Given the fixture mix through receiver, processors, publisher and the reminders firing
    called = {
        function: {action(*request.split(":")) for request in usage.requests}
        for function, usage in mix_run.usage.items()
    }
    assert {"ReceiverFunction", "InviteeCreatedProcessor", "LifecyclePublisherFunction"} <= set(called)
    # Then each function was granted every action it called
    assert {f: missing for f, calls in called.items() if (missing := not_granted(f, calls))} == {}
