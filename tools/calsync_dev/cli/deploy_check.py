"""``calsync deploy-check``: before deploying a stage, find the named secrets a deleted stack of
that stage kept (``calsync/<stage>/oauth-app``, ``calsync/<stage>/erasure-key``) and print the
deploy command that adopts them by ARN (template parameters ``ExistingOAuthAppSecretArn`` and
``ExistingErasureKeySecretArn``) instead of creating them again, which stops at "already exists".
docs/operations.md, "Deploying the same stage again"."""

from __future__ import annotations

import argparse
import shlex
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from calsync_dev.cli.target import Commands
from calsync_dev.template import ROOT, load_raw

# The secrets a deleted stack keeps, by name under calsync/<stage>/, and the parameter adopting each.
KEPT = {"oauth-app": "ExistingOAuthAppSecretArn", "erasure-key": "ExistingErasureKeySecretArn"}
SAMCONFIG = ROOT / "samconfig.toml"
_STACK_ID_TAG = "aws:cloudformation:stack-id"


@dataclass(frozen=True)
class DeployConfig:
    """One samconfig.toml environment: its stack and its ``parameter_overrides``."""

    config_env: str
    stack_name: str
    overrides: dict[str, str]
    region: str | None = None  # samconfig.toml's, else the AWS CLI's usual sources

    @property
    def stage(self) -> str:
        default = str(load_raw()["Parameters"]["Stage"]["Default"])
        return self.overrides.get("Stage", default)


def parse_overrides(text: str | list[str]) -> dict[str, str]:
    """``Stage=prod LogRetentionDays=90 ReconcileSchedule="rate(1 hour)"`` (as samconfig.toml and
    ``sam deploy --parameter-overrides`` write them) → ``{name: value}``, in order."""
    tokens = [token for part in ([text] if isinstance(text, str) else text) for token in shlex.split(part)]
    pairs = (token.split("=", 1) for token in tokens if "=" in token)
    return {name: value for name, value in pairs}


def format_overrides(overrides: dict[str, str]) -> str:
    return " ".join(f'{name}="{value}"' if " " in value else f"{name}={value}" for name, value in overrides.items())


def read_config(config_env: str = "default", path: Path = SAMCONFIG) -> DeployConfig:
    """The stack name and parameter overrides ``sam deploy --config-env`` would use."""
    data = tomllib.loads(path.read_text())
    env = data.get(config_env)
    if not isinstance(env, dict):
        raise ValueError(f"{path.name} has no config env {config_env!r}")
    deploy = env.get("deploy", {}).get("parameters", {})
    stack_name = deploy.get("stack_name") or env.get("global", {}).get("parameters", {}).get("stack_name")
    if not stack_name:
        raise ValueError(f"{path.name} names no stack for config env {config_env!r}")
    overrides = parse_overrides(deploy.get("parameter_overrides", ""))
    return DeployConfig(
        config_env,
        str(stack_name),
        overrides,
        deploy.get("region") or env.get("global", {}).get("parameters", {}).get("region"),
    )


@dataclass(frozen=True)
class Finding:
    """What stands under one of the stage's secret names, and what the deploy should do about it."""

    name: str
    parameter: str
    arn: str | None = None  # None: no such secret, the stack creates it
    action: str = "create"  # create | keep (the stack already has it) | adopt | restore | conflict
    detail: str = ""


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _stack(cloudformation: Any, stack: str) -> dict[str, Any] | None:
    """The stack by name or id, or ``None`` if there is none (or it was deleted)."""
    from botocore.exceptions import ClientError

    try:
        found: dict[str, Any] = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if _code(error) == "ValidationError":  # CloudFormation's answer for a stack that does not exist
            return None
        raise
    return None if found.get("StackStatus") == "DELETE_COMPLETE" else found


def check(config: DeployConfig, secretsmanager: Any, cloudformation: Any) -> list[Finding]:
    """One finding per secret the stage's stack would create."""
    from botocore.exceptions import ClientError

    target = _stack(cloudformation, config.stack_name)
    given = {p["ParameterKey"]: p.get("ParameterValue", "") for p in (target or {}).get("Parameters", [])}
    given |= {k: v for k, v in config.overrides.items() if k in KEPT.values()}
    findings = []
    for suffix, parameter in KEPT.items():
        name = f"calsync/{config.stage}/{suffix}"
        try:
            secret = secretsmanager.describe_secret(SecretId=name)
        except ClientError as error:
            if _code(error) != "ResourceNotFoundException":
                raise
            findings.append(Finding(name, parameter))
            continue
        arn = str(secret["ARN"])
        tags = {tag["Key"]: tag["Value"] for tag in secret.get("Tags", [])}
        owner = tags.get(_STACK_ID_TAG)
        owner_stack = _stack(cloudformation, owner) if owner else None
        if secret.get("DeletedDate"):
            detail = f"scheduled for deletion: aws secretsmanager restore-secret --secret-id {shlex.quote(arn)}"
            findings.append(Finding(name, parameter, arn, "restore", detail))
        elif given.get(parameter) == arn or (target is not None and owner == target["StackId"]):
            findings.append(Finding(name, parameter, arn, "keep", f"stack {config.stack_name} uses it"))
        elif owner_stack is not None:
            detail = f"stack {owner_stack['StackName']} still has it: another stack on Stage={config.stage}?"
            findings.append(Finding(name, parameter, arn, "conflict", detail))
        else:
            findings.append(
                Finding(name, parameter, arn, "adopt", "kept by a deleted stack" if owner else "made by no stack")
            )
    return findings


def deploy_command(config: DeployConfig, findings: list[Finding]) -> str:
    """``make deploy`` with samconfig.toml's overrides plus the adopted ARNs (the command line's
    ``--parameter-overrides`` replaces samconfig.toml's, so they are repeated)."""
    overrides = dict(config.overrides)
    overrides.setdefault("Stage", config.stage)
    overrides |= {f.parameter: str(f.arn) for f in findings if f.action in ("adopt", "restore")}
    env = "" if config.config_env == "default" else f" CONFIG_ENV={shlex.quote(config.config_env)}"
    return f"make deploy{env} PARAMETER_OVERRIDES={shlex.quote(format_overrides(overrides))}"


def report(config: DeployConfig, findings: list[Finding]) -> tuple[str, int]:
    """What to print, and the exit status: 0 when ``make deploy`` as configured goes through."""
    lines = [f"stack {config.stack_name}, Stage={config.stage}:"]
    for f in findings:
        what = {"create": "none yet: the stack creates it", "keep": f.detail, "adopt": f"{f.detail} → adopt"}
        lines.append(f"  {f.name}: {what.get(f.action, f.detail)}" + (f"\n    {f.arn}" if f.action == "adopt" else ""))
    if any(f.action == "conflict" for f in findings):
        lines.append("Two stacks cannot share a stage's secrets: deploy another Stage, or delete the other stack.")
        return "\n".join(lines), 1
    if not any(f.action in ("adopt", "restore") for f in findings):
        lines.append("Nothing kept to adopt: make deploy as configured.")
        return "\n".join(lines), 0
    if any(f.action == "restore" for f in findings):
        lines.append("Restore the secret(s) above first, then deploy with:")
    else:
        lines.append("Deploy with (later deploys keep these values by themselves):")
    lines.append(f"  {deploy_command(config, findings)}")
    return "\n".join(lines), 1


def register(commands: Commands) -> None:
    command = commands.add_parser(
        "deploy-check",
        help="before a deploy: find the secrets a deleted stack of the stage kept, print the command adopting them",
    )
    command.add_argument("--config-env", default="default", help="samconfig.toml environment (default: default)")
    command.set_defaults(func=_deploy_check)


def _deploy_check(args: argparse.Namespace) -> int:
    import boto3

    try:
        config = read_config(args.config_env)
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.Session(region_name=config.region)
    try:
        findings = check(config, session.client("secretsmanager"), session.client("cloudformation"))
    except (BotoCoreError, ClientError) as error:  # no credentials or region, access denied: say which
        print(f"deploy-check could not ask AWS: {_code(error) or type(error).__name__}", file=sys.stderr)
        return 2
    text, status = report(config, findings)
    print(text)
    return status
