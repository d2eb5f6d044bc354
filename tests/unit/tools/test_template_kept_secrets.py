"""Deploying a stage again after ``sam delete``: the deleted stack kept its two named secrets
(``calsync/<stage>/oauth-app``, ``calsync/<stage>/erasure-key``), and a new stack given their ARNs
uses them instead of creating them again (which stops at "already exists"). Read through the
project's own template reader (``calsync_dev.template.deployed``: Conditions and ``Fn::If`` as
CloudFormation resolves them); tests/unit/tools/test_template_expansion.py checks SAM CLI's engine."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from calsync_dev.template import deployed, load

TEMPLATE = load()
ACCOUNT, REGION = "123456789012", "us-east-1"
OAUTH_APP_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:calsync/dev/oauth-app-AbC123"
ERASURE_KEY_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:calsync/dev/erasure-key-XyZ789"
PROCESSORS = ["InviteeCreatedProcessor", "InviteeCanceledProcessor", "InviteeNoShowProcessor"]
PROCESSORS += ["RoutingFormProcessor", "OtherProcessor"]


class Secret:
    """One of the two kept secrets: its parameter, the name the stack gives it, and every place
    the template uses it (the functions' variable, the functions granted it, the output)."""

    def __init__(self, logical: str, parameter: str, arn: str, name: str, variable: str, output: str) -> None:
        self.logical, self.parameter, self.arn, self.name = logical, parameter, arn, name
        self.variable, self.output = variable, output

    def __repr__(self) -> str:
        return self.logical


OAUTH_APP = Secret(
    "OAuthAppSecret",
    "ExistingOAuthAppSecretArn",
    OAUTH_APP_ARN,
    "oauth-app",
    "OAUTH_APP_SECRET_NAME",
    "OAuthAppSecretName",
)
ERASURE_KEY = Secret(
    "ErasureKeySecret",
    "ExistingErasureKeySecretArn",
    ERASURE_KEY_ARN,
    "erasure-key",
    "ERASURE_KEY_SECRET_NAME",
    "ErasureKeySecretName",
)
# Who reads each secret (its variable) and who may (an IAM statement on it alone)
READERS = {
    OAUTH_APP: [
        "TokenRefresherFunction",
        "SubscriptionWatchdogFunction",
        "ReconcilerFunction",
        "OAuthCallbackFunction",
        "ConnectApiFunction",
        "DisconnectApiFunction",
        "ActionsApiFunction",  # its variable only (a connection's settings); never granted, never read
    ],
    ERASURE_KEY: [
        *PROCESSORS,
        "ReconcilerFunction",
        "ErasureApiFunction",
        "ErasureWorkerFunction",
        "ActionsApiFunction",
    ],
}
GRANTED = {
    OAUTH_APP: ["TokenRefresherFunction", "OAuthCallbackFunction", "ConnectApiFunction", "DisconnectApiFunction"],
    ERASURE_KEY: [
        *PROCESSORS,
        "ReconcilerFunction",
        "ErasureApiFunction",
        "ErasureWorkerFunction",
        "ActionsApiFunction",
    ],
}


def deploy(*kept: Secret) -> dict[str, Any]:
    """Resources and Outputs as CloudFormation creates them with these secrets' ARNs given (the
    parameters' ``Ref`` resolved to the values given)."""
    values = {secret.parameter: secret.arn for secret in kept}
    template = deployed(TEMPLATE, values)

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in values:
                return values[node["Ref"]]
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return {"Resources": resolve(template["Resources"]), "Outputs": resolve(template["Outputs"])}


def variable(stack: dict[str, Any], function: str, name: str) -> Any:
    return stack["Resources"][function]["Properties"]["Environment"]["Variables"][name]


def granted(stack: dict[str, Any], function: str) -> list[Any]:
    """The resources of the function's Secrets Manager statements."""
    statements = stack["Resources"][function]["Properties"]["Policies"][0]["Statement"]
    return [s["Resource"] for s in statements if "secretsmanager:GetSecretValue" in json.dumps(s["Action"])]


def mentions(stack: dict[str, Any], secret: Secret) -> list[str]:
    """Every text of the deployed stack naming the secret the stack itself would create."""
    text = json.dumps(stack)
    created = [f'"Ref": "{secret.logical}"', f"calsync/${{Stage}}/{secret.name}"]
    return [found for found in created if found in text]


def created_secrets(stack: dict[str, Any]) -> set[str]:
    return {k for k, v in stack["Resources"].items() if v["Type"] == "AWS::SecretsManager::Secret"}


def test_by_default_the_stack_creates_both_secrets_under_the_stages_names() -> None:
    # Given no kept secret's ARN (a first deploy of the stage)
    stack = deploy()
    # Then the stack creates both, named for the stage, as before
    # (Slack, forwarding: off; the read API's cursor key is never kept, always the stack's own)
    assert created_secrets(stack) == {"OAuthAppSecret", "ErasureKeySecret", "CursorKeySecret"}
    for secret in (OAUTH_APP, ERASURE_KEY):
        name = {"Fn::Sub": f"calsync/${{Stage}}/{secret.name}"}
        assert stack["Resources"][secret.logical]["Properties"]["Name"] == name
        # And the functions read it by that name, are granted exactly it, and the output names it
        for function in READERS[secret]:
            assert variable(stack, function, secret.variable) == name, function
        for function in GRANTED[secret]:
            assert {"Ref": secret.logical} in granted(stack, function), function
        assert stack["Outputs"][secret.output]["Value"] == name
    # And nothing refers to the parameters
    assert "Existing" not in json.dumps(stack)


@pytest.mark.parametrize("kept", [OAUTH_APP, ERASURE_KEY], ids=repr)
def test_a_kept_secret_is_used_by_its_arn_and_not_created_again(kept: Secret) -> None:
    # Given the ARN of one secret a deleted stack of the stage kept
    (other,) = {OAUTH_APP, ERASURE_KEY} - {kept}
    stack = deploy(kept)
    # Then the stack does not create it (nothing stops at "already exists")...
    assert kept.logical not in stack["Resources"]
    # ...and every use of it names the kept secret: each reader's variable (Secrets Manager
    # takes an ARN as SecretId), each grant and the output (calsync --stack reads it)
    for function in READERS[kept]:
        assert variable(stack, function, kept.variable) == kept.arn, function
    for function in GRANTED[kept]:
        assert kept.arn in granted(stack, function), function
    assert stack["Outputs"][kept.output]["Value"] == kept.arn
    assert mentions(stack, kept) == []
    # And the other secret is created and used as before
    assert other.logical in stack["Resources"]
    assert mentions(stack, other) != []


def test_with_both_kept_the_stack_creates_no_secret_and_grants_only_the_kept_ones() -> None:
    # Given both kept secrets' ARNs (the documented redeploy)
    stack = deploy(OAUTH_APP, ERASURE_KEY)
    # Then the stack creates no kept secret (Slack and forwarding are off), only its cursor key
    assert created_secrets(stack) == {"CursorKeySecret"}
    # And no grant is wider than the one kept secret it is for
    for secret in (OAUTH_APP, ERASURE_KEY):
        for function in GRANTED[secret]:
            assert secret.arn in granted(stack, function)
    # And the default path's every use was replaced (the same count of places name the ARNs)
    default, adopted = json.dumps(deploy()), json.dumps(stack)
    for secret in (OAUTH_APP, ERASURE_KEY):
        assert adopted.count(secret.arn) == len(READERS[secret]) + len(GRANTED[secret]) + 1
        assert default.count(f"calsync/${{Stage}}/{secret.name}") == len(READERS[secret]) + 1 + 1  # + its Name
        assert default.count(f'"Ref": "{secret.logical}"') == len(GRANTED[secret])


@pytest.mark.parametrize("parameter", [OAUTH_APP.parameter, ERASURE_KEY.parameter])
@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("", True),
        (OAUTH_APP_ARN, True),
        ("arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:calsync/prod/erasure-key-a1B2c3", True),
        ("arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:calsync/x/oauth-app-a1B2c3", True),
        # a name, or an ARN without its six-character suffix: Secrets Manager would find the
        # secret, but an IAM grant on that text matches nothing, and every read is denied
        ("calsync/dev/oauth-app", False),
        (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:calsync/dev/oauth-app", False),
        (f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/calsync/dev/oauth-app-AbC123", False),
        (f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:calsync/dev/*", False),
        (f" {OAUTH_APP_ARN}", False),
    ],
)
def test_the_parameters_take_only_a_full_secret_arn(parameter: str, value: str, accepted: bool) -> None:
    # Given the pattern CloudFormation checks the value against before anything is created
    pattern = TEMPLATE["Parameters"][parameter]["AllowedPattern"]
    assert TEMPLATE["Parameters"][parameter]["Default"] == ""
    # Then only a whole secret ARN (or nothing) passes
    assert (re.fullmatch(pattern, value) is not None) is accepted
