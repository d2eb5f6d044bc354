"""``calsync deploy-check``: before deploying a stage again after ``sam delete``, it finds the
secrets the deleted stack kept and prints the one command that adopts them (AWS answered by
fakes shaped like boto3's answers)."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from samcli.cli.types import CfnParameterOverridesType

from calsync_dev.cli.deploy_check import (
    DeployConfig,
    check,
    parse_overrides,
    read_config,
    report,
)
from calsync_dev.template import ROOT

ACCOUNT = "123456789012"
DELETED_STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/calsync-prod/old-0000"
LIVE_STACK = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/calsync-prod/new-1111"
PROD = DeployConfig("prod", "calsync-prod", {"Stage": "prod", "LogRetentionDays": "90", "ArchiveTtlDays": "180"})


def arn(name: str) -> str:
    return f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:{name}-AbC123"


class Secrets:
    """describe_secret over {name: (stack id tag or None, scheduled for deletion)}."""

    def __init__(self, secrets: Mapping[str, tuple[str | None, bool]]) -> None:
        self.secrets = secrets

    def describe_secret(self, SecretId: str) -> dict[str, Any]:
        if SecretId not in self.secrets:
            raise ClientError({"Error": {"Code": "ResourceNotFoundException"}}, "DescribeSecret")
        stack, deleted = self.secrets[SecretId]
        answer: dict[str, Any] = {"ARN": arn(SecretId), "Name": SecretId}
        if stack:
            answer["Tags"] = [{"Key": "aws:cloudformation:stack-id", "Value": stack}]
        if deleted:
            answer["DeletedDate"] = "2026-12-01T00:00:00Z"
        return answer


class Stacks:
    """describe_stacks over {name or id: stack}; a deleted one is found by id only."""

    def __init__(self, *stacks: dict[str, Any]) -> None:
        self.stacks = {s["StackName"]: s for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"}
        self.stacks |= {s["StackId"]: s for s in stacks}

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        if StackName not in self.stacks:
            raise ClientError({"Error": {"Code": "ValidationError"}}, "DescribeStacks")
        return {"Stacks": [self.stacks[StackName]]}


def stack(stack_id: str, status: str, **parameters: str) -> dict[str, Any]:
    name = stack_id.split("/")[1]
    given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
    return {"StackId": stack_id, "StackName": name, "StackStatus": status, "Parameters": given}


KEPT_BY_DELETED = {"calsync/prod/oauth-app": (DELETED_STACK, False), "calsync/prod/erasure-key": (DELETED_STACK, False)}


def test_the_projects_config_envs_are_read_as_sam_deploy_reads_them() -> None:
    config = read_config("prod", ROOT / "samconfig.toml")
    assert (config.stack_name, config.stage) == ("calsync-prod", "prod")
    assert read_config("default", ROOT / "samconfig.toml").stage == "dev"


def test_overrides_are_read_as_sam_writes_them() -> None:
    text = 'Stage=prod ReconcileSchedule="rate(1 hour)" ForwardDetailTypes=""'
    assert parse_overrides(text) == {"Stage": "prod", "ReconcileSchedule": "rate(1 hour)", "ForwardDetailTypes": ""}


def test_a_first_deploy_of_the_stage_needs_nothing() -> None:
    # Given no secret under the stage's names
    findings = check(PROD, Secrets({}), Stacks())
    # Then the stack creates both: make deploy as configured
    assert [f.action for f in findings] == ["create", "create"]
    assert report(PROD, findings)[1] == 0


def test_after_sam_delete_it_prints_the_one_command_adopting_both_kept_secrets() -> None:
    # Given the stage's stack was deleted and kept both named secrets
    findings = check(PROD, Secrets(KEPT_BY_DELETED), Stacks(stack(DELETED_STACK, "DELETE_COMPLETE")))
    text, status = report(PROD, findings)
    # Then it says to adopt them (status 1: a plain make deploy would stop at "already exists")...
    assert [f.action for f in findings] == ["adopt", "adopt"]
    assert status == 1
    # ...with one command: samconfig.toml's own overrides (the command line replaces them) plus both ARNs
    (command,) = [line.strip() for line in text.splitlines() if line.strip().startswith("make deploy")]
    words = shlex.split(command)
    assert words[:3] == ["make", "deploy", "CONFIG_ENV=prod"]
    assert words[3].startswith("PARAMETER_OVERRIDES=")
    # (read here by SAM CLI's own parser of --parameter-overrides, which the Makefile passes it to)
    assert CfnParameterOverridesType().convert((words[3].removeprefix("PARAMETER_OVERRIDES="),), None, None) == {
        "Stage": "prod",
        "LogRetentionDays": "90",
        "ArchiveTtlDays": "180",
        "ExistingOAuthAppSecretArn": arn("calsync/prod/oauth-app"),
        "ExistingErasureKeySecretArn": arn("calsync/prod/erasure-key"),
    }


def test_a_stack_already_using_them_needs_nothing_more() -> None:
    # Given the stage's live stack created one secret and adopted the other (a later deploy)
    live = stack(LIVE_STACK, "UPDATE_COMPLETE", ExistingErasureKeySecretArn=arn("calsync/prod/erasure-key"))
    secrets = Secrets(
        {"calsync/prod/oauth-app": (LIVE_STACK, False), "calsync/prod/erasure-key": (DELETED_STACK, False)}
    )
    findings = check(PROD, secrets, Stacks(live, stack(DELETED_STACK, "DELETE_COMPLETE")))
    # Then both are the stack's already: sam deploy keeps the parameter's previous value
    assert [f.action for f in findings] == ["keep", "keep"]
    assert report(PROD, findings)[1] == 0


def test_a_secret_scheduled_for_deletion_is_restored_first() -> None:
    secrets = Secrets({"calsync/prod/erasure-key": (DELETED_STACK, True)})
    findings = check(PROD, secrets, Stacks(stack(DELETED_STACK, "DELETE_COMPLETE")))
    text, status = report(PROD, findings)
    assert [f.action for f in findings] == ["create", "restore"]
    assert status == 1
    assert "aws secretsmanager restore-secret --secret-id" in text
    assert f"ExistingErasureKeySecretArn={arn('calsync/prod/erasure-key')}" in text


@pytest.mark.parametrize("status", ["CREATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_a_secret_another_live_stack_holds_is_not_adopted(status: str) -> None:
    # Given another stack, still there, on the same Stage
    other = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/calsync-prod-copy/x"
    findings = check(PROD, Secrets({"calsync/prod/oauth-app": (other, False)}), Stacks(stack(other, status)))
    text, code = report(PROD, findings)
    assert findings[0].action == "conflict"
    assert code == 1
    assert "make deploy" not in text


def test_a_missing_config_env_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "samconfig.toml").write_text('version = 0.1\n[default.global.parameters]\nstack_name = "x"\n')
    with pytest.raises(ValueError, match="no config env 'prod'"):
        read_config("prod", tmp_path / "samconfig.toml")
