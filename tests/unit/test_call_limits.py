"""Every AWS and Calendly call ends in time for its function (audit defect 6): the clients'
configured timeouts × attempts (+ back-off) fit each function's Lambda timeout, and the
receiver's fit in ~5 s, so it answers its own 503 before Calendly (15 s) or Lambda (10 s)
gives up. Checked on the clients as the composition root builds them (no AWS, no sockets)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from calsync import compose
from calsync.aws import clients
from calsync.calendly import http
from calsync.calendly.limits import BACKOFF_BASE, BACKOFF_CAP, INTERACTIVE, RECONCILE, CallLimits
from calsync.config import ConnectionSettings, ProcessorSettings, ReceiverSettings
from calsync.intake.routing import QueueKind
from calsync_dev.template import load

FUNCTIONS = load()["Resources"]
GLOBAL_TIMEOUT = load()["Globals"]["Function"]["Timeout"]


def lambda_timeout(function: str) -> float:
    return float(FUNCTIONS[function]["Properties"].get("Timeout", GLOBAL_TIMEOUT))


def worst_case(client: Any) -> float:
    """What a botocore client's own config allows one call: every attempt timing out."""
    config = client.meta.config
    attempts = config.retries["total_max_attempts"]
    assert config.retries["mode"] == "standard"
    backoff = sum(min(clients.MAX_BACKOFF_SECONDS, 2.0**n) for n in range(attempts - 1))
    return float(attempts * (config.connect_timeout + config.read_timeout) + backoff)


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)  # no credential lookup (it would open a socket)
    clients.reset()
    yield
    clients.reset()


def test_the_receivers_aws_calls_each_end_within_five_seconds() -> None:
    # Given the receiver's services as its handler builds them
    settings = ReceiverSettings.model_validate(
        {
            "signing_key_prefix": "calsync/test/signing-keys/",
            "bookings_table_name": "bookings",
            "queue_urls": {kind: f"https://sqs.local/{kind}" for kind in QueueKind},
        }
    )
    compose.receiver(settings)
    # When its clients are built (on the first request)
    built = {"sqs": clients.sqs(), "secretsmanager": clients.secretsmanager(), "dynamodb": clients.dynamodb()}
    # Then each call, every attempt timing out, ends within 5 s: a 503 well inside Lambda's 10 s
    # and Calendly's 15 s read timeout
    for name, client in built.items():
        assert worst_case(client) <= 5.0, name
    # And a body too large for a message is put to S3 first, in one attempt of at most 4 s
    assert worst_case(clients.s3()) <= 4.0
    assert clients.RECEIVER.worst_case_seconds == 5.0
    assert lambda_timeout("ReceiverFunction") > 5.0


def test_the_processors_aws_calls_fit_their_function_with_room_for_the_batch() -> None:
    compose.processor(ProcessorSettings(bookings_table_name="t", erasure_key_secret_name="k"))
    assert worst_case(clients.dynamodb()) <= lambda_timeout("InviteeCreatedProcessor") * 0.75


@pytest.mark.parametrize(
    ("function", "timeouts"),
    [
        ("ReceiverFunction", clients.RECEIVER),
        ("InviteeCreatedProcessor", clients.BATCH),
        ("ReminderFunction", clients.BATCH),
        ("SlackNotifierFunction", clients.BATCH),
        ("HttpForwarderFunction", clients.BATCH),
        ("LifecyclePublisherFunction", clients.BATCH),
        ("OAuthCallbackFunction", clients.SCHEDULED),
        ("SubscriptionWatchdogFunction", clients.SCHEDULED),
        ("TokenRefresherFunction", clients.SCHEDULED),
        ("ReconcilerFunction", clients.SCHEDULED),
    ],
)
def test_one_aws_call_ends_before_its_function_does(function: str, timeouts: clients.Timeouts) -> None:
    assert timeouts.worst_case_seconds < lambda_timeout(function)


def test_the_refreshers_budget_counts_one_aws_call_as_long_as_it_can_take() -> None:
    from calsync.connections.refresh import AWS_CALL_SECONDS

    assert clients.SCHEDULED.worst_case_seconds <= AWS_CALL_SECONDS


def test_calendly_calls_fit_the_functions_that_make_them() -> None:
    # The OAuth callback exchanges the code, reads the user, creates the subscription: each call
    # within its 30 s; the watchdog's per-connection calls too; the reconciler's within 900 s
    assert INTERACTIVE.worst_case_seconds < lambda_timeout("OAuthCallbackFunction")
    assert INTERACTIVE.worst_case_seconds < lambda_timeout("SubscriptionWatchdogFunction") / 4
    assert RECONCILE.worst_case_seconds < lambda_timeout("ReconcilerFunction")
    # And the worst case is computed with the clients' own back-off
    assert (BACKOFF_BASE, BACKOFF_CAP) == (http.BACKOFF_BASE, http.BACKOFF_CAP)


def test_the_calendly_clients_the_services_build_carry_their_limits() -> None:
    services = compose.connections(
        ConnectionSettings(
            bookings_table_name="t",
            token_secret_prefix="calsync/test/tokens/",
            signing_key_prefix="calsync/test/signing-keys/",
            oauth_app_secret_name="calsync/test/oauth-app",
        )
    )

    def limits_of(client: Any) -> CallLimits:
        timeout = client._timeout
        retrier = client._retrier
        return CallLimits(timeout.connect, timeout.read, retrier.max_retries, retrier.max_rate_limit_wait)

    assert limits_of(services.calendly_with_token("t")) == INTERACTIVE
