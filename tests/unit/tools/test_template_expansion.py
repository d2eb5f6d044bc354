"""template.yaml deploys as written: SAM CLI's own AWS::LanguageExtensions engine (its port of
what CloudFormation runs before a change set) expands every Fn::ForEach, the result passes
cfn-lint, and the project's expander (calsync_dev.template) produces the same resources."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

import pytest

# Imported here, not under the unit tests' socket guard: urllib3 (through SAM CLI) probes for
# IPv6 with a socket when first imported.
from cfnlint.api import ManualArgs, lint
from samcli.lib.cfn_language_extensions.api import create_default_intrinsic_resolver, process_template
from samcli.lib.cfn_language_extensions.models import (
    PseudoParameterValues,
    ResolutionMode,
    TemplateProcessingContext,
)
from samcli.lib.cfn_language_extensions.pipeline import ProcessingPipeline
from samcli.lib.cfn_language_extensions.processors import ForEachProcessor, TemplateParsingProcessor
from samcli.yamlhelper import yaml_parse

from calsync_dev.template import FOR_EACH, LANGUAGE_EXTENSIONS, TEMPLATE, load, load_raw

ACCOUNT, REGION = "123456789012", "us-east-1"
SECTIONS = ("Conditions", "Resources", "Outputs")
KINDS = ("InviteeCreated", "InviteeCanceled", "InviteeNoShow", "RoutingForm", "Other")


# The secrets a deleted stack of the stage kept, adopted (docs/operations.md "Deploying the same stage again")
OAUTH_APP_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:calsync/dev/oauth-app-AbC123"
ERASURE_KEY_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:calsync/dev/erasure-key-XyZ789"
ADOPTED = (("ExistingOAuthAppSecretArn", OAUTH_APP_ARN), ("ExistingErasureKeySecretArn", ERASURE_KEY_ARN))
PARAMETER_SETS = {"defaults": (), "kept-secrets": ADOPTED}

type Overrides = tuple[tuple[str, str], ...]


def _source(overrides: Overrides = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    """template.yaml as SAM CLI parses it, and its parameters (defaults unless overridden)."""
    source: dict[str, Any] = yaml_parse(TEMPLATE.read_text())
    parameters: dict[str, Any] = {}
    for name, spec in source.get("Parameters", {}).items():
        default = spec.get("Default")
        if spec.get("Type") == "CommaDelimitedList" and isinstance(default, str):
            default = default.split(",") if default else [""]
        if default is not None:
            parameters[name] = default
    return source, {**parameters, **dict(overrides)}


@cache
def sam_cli_processed(overrides: Overrides = ()) -> dict[str, Any]:
    """template.yaml through SAM CLI's whole engine (``process_template``: loops expanded, then
    whatever intrinsics it can resolve locally, as ``sam build``/``sam deploy`` see it)."""
    source, parameters = _source(overrides)
    pseudo = PseudoParameterValues(
        region=REGION,
        account_id=ACCOUNT,
        stack_name="calsync-dev",
        stack_id=f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/calsync-dev/x",
    )
    out: dict[str, Any] = process_template(
        copy.deepcopy(source), parameter_values=parameters, pseudo_parameters=pseudo,
        resolution_mode=ResolutionMode.PARTIAL,
    )  # fmt: skip
    return out


@cache
def sam_cli_expanded(overrides: Overrides = ()) -> dict[str, Any]:
    """template.yaml with only SAM CLI's loop stage run (parsing, then ``Fn::ForEach``): what the
    transform hands on, intrinsics as written. (The whole engine also resolves ``Fn::Sub`` locally
    into half-substituted strings, which is not what CloudFormation creates, so cfn-lint reads this.)"""
    source, parameters = _source(overrides)
    context = TemplateProcessingContext(
        fragment=copy.deepcopy(source), parameter_values=parameters, resolution_mode=ResolutionMode.PARTIAL
    )
    loops = ForEachProcessor(intrinsic_resolver=create_default_intrinsic_resolver(context))
    out: dict[str, Any] = ProcessingPipeline([TemplateParsingProcessor(), loops]).process_template(context)
    return out


def loop_identifiers(node: Any) -> set[str]:
    """Every Fn::ForEach identifier in the template as written."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if isinstance(key, str) and key.startswith(FOR_EACH):
                found.add(value[0])
            found |= loop_identifiers(value)
    elif isinstance(node, list):
        for value in node:
            found |= loop_identifiers(value)
    return found


def leftovers(node: Any, identifiers: set[str], where: str = "") -> Iterator[str]:
    """Where a loop or a loop identifier (``${Id}``, ``&{Id}``) survived, in keys or strings."""
    pattern = re.compile(r"[$&]\{(" + "|".join(map(re.escape, sorted(identifiers))) + r")\}")
    if isinstance(node, dict):
        for key, value in node.items():
            if str(key).startswith(FOR_EACH):
                yield f"{where}/{key}"
            elif pattern.search(str(key)):
                yield f"{where}/{key} (key)"
            yield from leftovers(value, identifiers, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from leftovers(value, identifiers, f"{where}[{i}]")
    elif isinstance(node, str) and pattern.search(node):
        yield f"{where}: {node!r}"


def test_the_template_has_loops_worth_checking() -> None:
    # Given the template as written, Then it uses the language extensions with the loop
    # identifiers this file looks for
    raw = load_raw()
    assert LANGUAGE_EXTENSIONS in raw["Transform"]
    assert {"Kind", "Fn", "Queue"} <= loop_identifiers(raw)


@pytest.mark.parametrize("overrides", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
@pytest.mark.parametrize("stage", [sam_cli_processed, sam_cli_expanded], ids=["whole-engine", "loop-stage"])
def test_sam_clis_engine_expands_every_loop(stage: Callable[[Overrides], dict[str, Any]], overrides: Overrides) -> None:
    # When SAM CLI's engine expands the template (with its parameters' defaults, or adopting the
    # secrets a deleted stack of the stage kept)
    out = stage(overrides)
    # Then no Fn::ForEach and no loop identifier is left anywhere (a loop nested deeper than a
    # resource's Properties stays behind with Ref: "${Kind}Queue", and the change set fails)
    identifiers = loop_identifiers(load_raw())
    left = [path for section in SECTIONS for path in leftovers(out.get(section), identifiers, section)]
    assert left == []
    # And each function that sends to the intake queues gets one URL per kind
    for function in ("ReceiverFunction", "ReconcilerFunction"):
        variables = out["Resources"][function]["Properties"]["Environment"]["Variables"]
        urls = {k: v for k, v in variables.items() if k in {f"{kind}QueueUrl" for kind in KINDS}}
        assert urls == {f"{kind}QueueUrl": {"Ref": f"{kind}Queue"} for kind in KINDS}, function


def test_the_expanded_template_passes_cfn_lint() -> None:
    # Given what SAM CLI's loop stage makes of the template (the transform stays declared: it also
    # resolves Fn::ToJsonString and Fn::GetAtt of a Fn::Sub name, which the template uses)
    out = sam_cli_expanded()
    # When cfn-lint reads it, Then it finds nothing
    # (E2533, a runtime's deprecation, depends on today's date: `make lint` checks it on the real
    # date; this test must pass whatever the date is, as `make timetravel` shows)
    findings = lint(json.dumps(out), regions=[REGION], config=ManualArgs(ignore_checks=["E2533"]))
    assert [str(finding) for finding in findings] == []


def _shape(template: dict[str, Any]) -> dict[str, Any]:
    """What both expanders must agree on: ids, types, property names, environment variable names."""

    def resource(value: dict[str, Any]) -> tuple[Any, ...]:
        props = value.get("Properties", {})
        variables = props.get("Environment", {}).get("Variables", {})
        return value["Type"], value.get("Condition"), sorted(props), sorted(variables)

    return {
        "Conditions": sorted(template.get("Conditions", {})),
        "Resources": {k: resource(v) for k, v in template["Resources"].items()},
        "Outputs": {k: sorted(v) for k, v in template.get("Outputs", {}).items()},
    }


def test_the_projects_expander_agrees_with_sam_clis() -> None:
    # Given the template expanded by the tools, the tests and the local stack (calsync_dev.template)
    ours = load()
    # Then it has the same resources, properties, variables and outputs as SAM CLI's expansion
    assert _shape(ours) == _shape(sam_cli_expanded())


def test_sam_clis_engine_points_every_use_of_a_kept_secret_at_its_arn() -> None:
    # Given the ARNs of the two secrets a deleted stack of the stage kept
    out = sam_cli_processed(ADOPTED)
    resources = out["Resources"]
    # When SAM CLI's engine resolves the template's Fn::If locally (as sam deploy sees it),
    # Then every function's variable, IAM grant and output names the kept secrets, never the
    # names the stack would create
    assert resources["OAuthAppSecret"]["Condition"] == "CreatesOAuthAppSecret"
    assert resources["ErasureKeySecret"]["Condition"] == "CreatesErasureKeySecret"
    for function in (
        "TokenRefresherFunction",
        "SubscriptionWatchdogFunction",
        "ReconcilerFunction",
        "OAuthCallbackFunction",
    ):
        assert resources[function]["Properties"]["Environment"]["Variables"]["OAUTH_APP_SECRET_NAME"] == OAUTH_APP_ARN
    for function in ("ReconcilerFunction", *(f"{kind}Processor" for kind in KINDS)):
        assert (
            resources[function]["Properties"]["Environment"]["Variables"]["ERASURE_KEY_SECRET_NAME"] == ERASURE_KEY_ARN
        )
    assert out["Outputs"]["OAuthAppSecretName"]["Value"] == OAUTH_APP_ARN
    assert out["Outputs"]["ErasureKeySecretName"]["Value"] == ERASURE_KEY_ARN
    # (the engine leaves the two conditional secrets in; CloudFormation creates neither)
    text = json.dumps({k: v for k, v in resources.items() if k not in ("OAuthAppSecret", "ErasureKeySecret")})
    text += json.dumps(out["Outputs"])
    for created in (
        'calsync/dev/oauth-app"',
        'calsync/dev/erasure-key"',
        '"Ref": "OAuthAppSecret"',
        '"Ref": "ErasureKeySecret"',
    ):
        assert created not in text
