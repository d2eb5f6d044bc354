"""A stage deployed again after ``sam delete``, adopting the two secrets the deleted stack kept
(``ExistingOAuthAppSecretArn``, ``ExistingErasureKeySecretArn``): its functions read them by ARN,
so the OAuth app's credentials and the erasure key (and with it every tombstone) carry over.

moto stands in for the account: the first provisioning is the deleted stack (its secrets stay,
as ``DeletionPolicy`` keeps them); the second, given their ARNs, is the new one. The table is the
stage's (as when the old table is imported or restored into the new stack)."""

from __future__ import annotations

import json
import re
import shlex
import time
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from calsync.connections.aws_registry import DynamoConnectionRegistry
from calsync.connections.aws_tokens import SecretsManagerOAuthApp
from calsync.connections.connect import start_oauth
from calsync_dev.cli import main
from calsync_dev.cli.deploy_check import parse_overrides
from calsync_dev.provision import Stack, provision
from calsync_dev.template import load_raw
from tests.factories import GRACE, event_body, grace_booking
from tests.integration.conftest import Pipeline
from tests.integration.test_erasure import ADA, found_in_table, run_erase

APP = {"client_id": "kept-client-id", "client_secret": "kept-client-secret", "webhook_signing_key": "kept-app-key"}


def arn_of(name: str) -> str:
    arn: str = boto3.client("secretsmanager").describe_secret(SecretId=name)["ARN"]
    return arn


@pytest.fixture
def stack(aws: None) -> Stack:
    """The stage deployed again, adopting what its deleted first deploy kept."""
    session = boto3.Session(region_name="us-east-1")
    first = provision(session)  # the first deploy created both secrets...
    oauth_app = first.env("OAuthCallbackFunction")["OAUTH_APP_SECRET_NAME"]
    boto3.client("secretsmanager").put_secret_value(SecretId=oauth_app, SecretString=json.dumps(APP))
    run_erase(first, ADA)  # ...the operator stored the app's credentials and erased Ada...
    kept = {  # ...and after `sam delete` both secrets are still there
        "ExistingOAuthAppSecretArn": arn_of(oauth_app),
        "ExistingErasureKeySecretArn": arn_of(first.env("InviteeCreatedProcessor")["ERASURE_KEY_SECRET_NAME"]),
    }
    return provision(session, parameters=kept)


def test_the_new_stacks_functions_name_the_kept_secrets_by_arn(stack: Stack) -> None:
    oauth_app, erasure_key = arn_of("calsync/dev/oauth-app"), arn_of("calsync/dev/erasure-key")
    # Given ARNs as Secrets Manager gives them, the template's parameters accept them
    for parameter, arn in (("ExistingOAuthAppSecretArn", oauth_app), ("ExistingErasureKeySecretArn", erasure_key)):
        assert re.fullmatch(load_raw()["Parameters"][parameter]["AllowedPattern"], arn), arn
    # Then every function reading one reads it by that ARN
    for spec in stack.functions.values():
        assert spec.environment.get("OAUTH_APP_SECRET_NAME", oauth_app) == oauth_app, spec.logical_id
        assert spec.environment.get("ERASURE_KEY_SECRET_NAME", erasure_key) == erasure_key, spec.logical_id


def test_a_person_erased_before_the_redeploy_stays_erased(pipeline: Pipeline) -> None:
    # Given Ada was erased under the deleted stack, and the new one adopted its erasure key
    # When Calendly retries her old deliveries to the new stack (and Grace books)
    for body in (event_body("invitee_created.json"), event_body("invitee_canceled.json"), grace_booking()):
        assert pipeline.post(body)["statusCode"] == 202
    pipeline.drain()
    # Then the kept key still matches her tombstone: nothing about her is stored again
    assert found_in_table(pipeline, ADA) == []
    assert len(pipeline.repo.bookings_by_email(GRACE)) == 1
    # And erasing someone in the new stack (calsync erase reads the key by its ARN) works too
    run_erase(pipeline.stack, GRACE)
    assert pipeline.repo.bookings_by_email(GRACE) == []


def test_connecting_an_account_uses_the_kept_oauth_apps_credentials(stack: Stack) -> None:
    # Given the new stack's OAuth callback environment (the app secret by its ARN)
    env = stack.env("OAuthCallbackFunction")
    # When an operator starts connecting a Calendly account
    url = start_oauth(
        DynamoConnectionRegistry(env["BOOKINGS_TABLE_NAME"]),
        SecretsManagerOAuthApp(env["OAUTH_APP_SECRET_NAME"]),
        connection_id="acme",
        redirect_uri="https://abc123.execute-api.us-east-1.amazonaws.com/dev/oauth/callback",
        now=time.time(),
    )
    # Then Calendly is asked with the app's client id stored before the redeploy
    assert parse_qs(urlsplit(url).query)["client_id"] == [APP["client_id"]]


def test_deploy_check_prints_the_command_adopting_both(aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    # Given the account after `sam delete` of the default config env's stack (calsync-dev):
    # both of the stage's secrets kept
    provision(boto3.Session(region_name="us-east-1"))
    # When the operator runs calsync deploy-check before deploying again
    status = main(["deploy-check"])
    # Then it prints the make deploy command with the kept secrets' ARNs, which the template accepts
    (command,) = [line.strip() for line in capsys.readouterr().out.splitlines() if "make deploy" in line]
    overrides = parse_overrides(shlex.split(command)[2].removeprefix("PARAMETER_OVERRIDES="))
    assert status == 1
    assert overrides == {
        "Stage": "dev",
        "ExistingOAuthAppSecretArn": arn_of("calsync/dev/oauth-app"),
        "ExistingErasureKeySecretArn": arn_of("calsync/dev/erasure-key"),
    }
    for parameter in ("ExistingOAuthAppSecretArn", "ExistingErasureKeySecretArn"):
        assert re.fullmatch(load_raw()["Parameters"][parameter]["AllowedPattern"], overrides[parameter])
