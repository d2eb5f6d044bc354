"""What AWS services do with the stack's roles and resource policies: Lambda polling event
sources and writing failure destinations, EventBridge rules delivering to their targets, the
Scheduler assuming its role."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tests.iam import deployed
from tests.iam.deployed import ACCOUNT, REGION, Stack
from tests.iam.policy import Request, statements_of
from tests.iam.requests import Check, target_requests

EVENTS_SERVICE = ("Service", "events.amazonaws.com")


def _function_logical(stack_: Stack, name_or_arn: str) -> str:
    name = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
    for logical in stack_.of_type("AWS::Lambda::Function"):
        if stack_.resolve.name(logical) == name:
            return logical
    raise KeyError(f"no function {name_or_arn} in the template")


def _poll_requests(source_arn: str) -> list[Request]:
    service = source_arn.split(":")[2]
    if service == "sqs":
        return [Request(f"sqs:{a}", source_arn) for a in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")]
    if service == "dynamodb":  # ListStreams has no resource-level permission: "*"
        reads = [Request(f"dynamodb:{a}", source_arn) for a in ("DescribeStream", "GetRecords", "GetShardIterator")]
        return [*reads, Request("dynamodb:ListStreams", "*")]
    raise ValueError(f"no polling model for an event source {source_arn}")


def _destinations(config: Mapping[str, Any]) -> list[Request]:
    found = []
    for outcome in ("OnFailure", "OnSuccess"):
        destination = config.get(outcome, {}).get("Destination")
        if destination:
            found += target_requests(str(destination))
    return found


def service_checks() -> list[Check]:
    """What AWS services do with the stack's roles: Lambda polling each event source mapping
    (an SQS queue; a DynamoDB stream) and writing its on-failure destination, an asynchronous
    invocation's dead-letter queue and destinations, and each template schedule's role invoking
    its target and writing its dead-letter queue."""
    stack_ = deployed.stack()
    found: list[Check] = []
    for mapping in stack_.of_type("AWS::Lambda::EventSourceMapping").values():
        props = mapping["Properties"]
        role = stack_.function_roles[_function_logical(stack_, props["FunctionName"])]
        requests = _poll_requests(props["EventSourceArn"]) + _destinations(props.get("DestinationConfig", {}))
        found += [Check(role, request) for request in requests]
    for logical, function in stack_.of_type("AWS::Lambda::Function").items():
        target = function["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
        if target:
            found += [Check(stack_.function_roles[logical], r) for r in target_requests(target)]
    for config in stack_.of_type("AWS::Lambda::EventInvokeConfig").values():
        props = config["Properties"]
        role = stack_.function_roles[_function_logical(stack_, props["FunctionName"])]
        found += [Check(role, r) for r in _destinations(props.get("DestinationConfig", {}))]
    for schedule in stack_.of_type("AWS::Scheduler::Schedule").values():
        target = schedule["Properties"]["Target"]
        role = stack_.role_arns.get(target["RoleArn"], target["RoleArn"])
        found += [Check(role, r) for r in target_requests(target["Arn"])]
        if "DeadLetterConfig" in target:
            found += [Check(role, r) for r in target_requests(target["DeadLetterConfig"]["Arn"])]
    return found


def rule_deliveries() -> list[tuple[str, Request]]:
    """Each EventBridge rule's deliveries, as the resource policy of the target sees them: to a
    queue (target or the target's dead-letter queue) ``sqs:SendMessage`` by events.amazonaws.com
    from the rule (``aws:SourceArn``), to a function ``lambda:InvokeFunction``."""
    stack_ = deployed.stack()
    found = []
    for logical, rule in stack_.of_type("AWS::Events::Rule").items():
        rule_arn = stack_.resolve.get_att(logical, "Arn")
        keys = {"aws:SourceArn": (rule_arn,), "aws:SourceAccount": (ACCOUNT,)}
        for target in rule["Properties"].get("Targets", []):
            # a target delivered through a role (the lake's Firehose stream) is the role's to allow
            # (tests/unit/tools/test_template_lake.py); its dead-letter queue is still a resource policy's
            delivered = [] if "RoleArn" in target else [target["Arn"]]
            arns = delivered + ([target["DeadLetterConfig"]["Arn"]] if "DeadLetterConfig" in target else [])
            for arn in arns:
                for request in target_requests(arn):
                    found.append((logical, Request(request.action, request.resource, keys, EVENTS_SERVICE)))
    return found


def resource_policy(arn: str) -> list[dict[str, Any]]:
    """The resource-based policy statements of a queue, a bucket (or an object in it) or a
    function in the template."""
    stack_ = deployed.stack()
    service = arn.split(":")[2]
    if service == "s3":
        bucket = arn.split(":::", 1)[1].split("/", 1)[0]
        return [
            statement
            for policy in stack_.of_type("AWS::S3::BucketPolicy").values()
            if policy["Properties"]["Bucket"] == bucket
            for statement in statements_of(policy["Properties"]["PolicyDocument"])
        ]
    if service == "sqs":
        name = arn.rsplit(":", 1)[-1]
        return stack_.queue_policies(f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}")
    if service == "lambda":
        statements = []
        for permission in stack_.of_type("AWS::Lambda::Permission").values():
            props = permission["Properties"]
            function = stack_.resolve.get_att(_function_logical(stack_, props["FunctionName"]), "Arn")
            if function != arn:
                continue
            condition: dict[str, Any] = {}
            if "SourceArn" in props:
                condition["ArnLike"] = {"aws:SourceArn": props["SourceArn"]}
            if "SourceAccount" in props:
                condition["StringEquals"] = {"aws:SourceAccount": props["SourceAccount"]}
            principal = str(props["Principal"])
            statements.append(
                {
                    "Effect": "Allow",
                    "Principal": {"Service": principal} if principal.endswith(".amazonaws.com") else {"AWS": principal},
                    "Action": props["Action"],
                    "Resource": arn,
                    "Condition": condition,
                }
            )
        return statements
    raise ValueError(f"no resource policy model for {arn}")


def trust(role: str) -> list[dict[str, Any]]:
    """A role's trust policy (who may assume it)."""
    return statements_of(deployed.stack().resources[role]["Properties"]["AssumeRolePolicyDocument"])
