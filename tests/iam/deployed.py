"""template.yaml as it deploys, for the IAM checks: ``Fn::ForEach`` expanded, the optional
consumers switched on, ``Fn::If`` resolved, then run through SAM's own translator
(``samtranslator``) so every function's role holds exactly what SAM writes into it: the inline
statements, the SAM policy templates expanded (``SQSSendMessagePolicy`` …), the managed policies
it attaches for event sources and tracing, the dead-letter and on-failure destination policies.
Every intrinsic is then resolved to a string for a fixed account, region and stage, with the
physical names ``calsync_dev.provision`` gives the emulator (so the names a function reads from
its environment in moto are the ones its policy names). Built once per session (~1 s)."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3  # at import: urllib3 probes a socket when first imported (unit tests block sockets)

from calsync_dev import template as cfn
from tests.iam.managed import PARTITION, managed_policy
from tests.iam.policy import statements_of

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's account, the tests' region
SECRET_SUFFIX = "-AbC123"  # Secrets Manager appends 6 random characters to a secret's ARN
STREAM_LABEL = "2026-01-01T00:00:00.000"
# Optional parts switched on, so their policies are checked too (the tests provision them all).
PARAMETERS = {"SlackNotifications": "on", "HttpForwarding": "on"}


_NAME_PROPERTY = {
    "AWS::SQS::Queue": "QueueName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Scheduler::ScheduleGroup": "Name",
    "AWS::Scheduler::Schedule": "Name",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
}


class Resolver:
    """Resolves ``Ref``, ``Fn::GetAtt``, ``Fn::Sub``, ``Fn::Join``, ``Fn::Select``, ``Fn::Split``
    to strings for a fixed account, region and stage. Names a resource does not set are those
    ``calsync_dev.provision`` gives in the emulator (``calsync-<stage>-<LogicalId>``; a role
    ``<LogicalId>``); an attribute not modelled here raises."""

    def __init__(self, resources: Mapping[str, Mapping[str, Any]], parameters: Mapping[str, str]) -> None:
        self.resources = resources
        self.values = {
            **parameters,
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "calsync",
            "AWS::NoValue": "",
        }
        self.stage = parameters.get("Stage", "dev")
        self._names: dict[str, str] = {}

    def type_of(self, logical: str) -> str:
        return str(self.resources[logical]["Type"])

    def name(self, logical: str) -> str:
        if logical not in self._names:
            resource = self.resources[logical]
            given = resource.get("Properties", {}).get(_NAME_PROPERTY.get(resource["Type"], ""))
            if given is not None:
                self._names[logical] = str(self(given))
            elif resource["Type"] == "AWS::IAM::Role":
                self._names[logical] = logical
            elif resource["Type"] == "AWS::S3::Bucket":
                self._names[logical] = f"calsync-{self.stage}-{logical}".lower()
            else:
                self._names[logical] = f"calsync-{self.stage}-{logical}"
        return self._names[logical]

    def arn(self, service: str, resource: str, *, region: bool = True, account: bool = True) -> str:
        return f"arn:{PARTITION}:{service}:{REGION if region else ''}:{ACCOUNT if account else ''}:{resource}"

    def ref(self, logical: str) -> str:
        if logical in self.values:
            return self.values[logical]
        kind, name = self.type_of(logical), self.name(logical)
        if kind == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        if kind == "AWS::SecretsManager::Secret":
            return self.arn("secretsmanager", f"secret:{name}{SECRET_SUFFIX}")
        if kind == "AWS::SNS::Topic":
            return self.arn("sns", name)
        if kind == "AWS::IAM::ManagedPolicy":
            return f"arn:{PARTITION}:iam::{ACCOUNT}:policy/{name}"
        return name

    def get_att(self, logical: str, attribute: str) -> str:
        kind, name = self.type_of(logical), self.name(logical)
        arns = {
            "AWS::SQS::Queue": lambda: self.arn("sqs", name),
            "AWS::DynamoDB::Table": lambda: self.arn("dynamodb", f"table/{name}"),
            "AWS::Events::EventBus": lambda: self.arn("events", f"event-bus/{name}"),
            "AWS::Events::Rule": lambda: self.arn("events", f"rule/{self._rule_bus(logical)}{name}"),
            "AWS::Scheduler::ScheduleGroup": lambda: self.arn("scheduler", f"schedule-group/{name}"),
            "AWS::Lambda::Function": lambda: self.arn("lambda", f"function:{name}"),
            "AWS::IAM::Role": lambda: f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
            "AWS::S3::Bucket": lambda: f"arn:{PARTITION}:s3:::{name}",
            "AWS::SNS::Topic": lambda: self.arn("sns", name),
            "AWS::Logs::LogGroup": lambda: self.arn("logs", f"log-group:{name}:*"),
            "AWS::KinesisFirehose::DeliveryStream": lambda: self.arn("firehose", f"deliverystream/{name}"),
        }
        if attribute == "Arn" and kind in arns:
            return arns[kind]()
        if kind == "AWS::SQS::Queue" and attribute == "QueueName":
            return name
        if kind == "AWS::SQS::Queue" and attribute == "QueueUrl":
            return self.ref(logical)
        if kind == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return self.arn("dynamodb", f"table/{name}/stream/{STREAM_LABEL}")
        if kind == "AWS::S3::Bucket" and attribute == "DomainName":
            return f"{name}.s3.amazonaws.com"
        raise KeyError(f"Fn::GetAtt {logical}.{attribute} ({kind}) is not modelled in tests/iam/deployed.py Resolver")

    def _rule_bus(self, logical: str) -> str:
        bus = self.resources[logical].get("Properties", {}).get("EventBusName")
        if bus is None:
            return ""
        name = str(self(bus)).rsplit("/", 1)[-1]
        return "" if name == "default" else f"{name}/"

    def __call__(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(str(self(arg)))
            if key == "Fn::GetAtt":
                logical, attribute = arg.split(".", 1) if isinstance(arg, str) else self(arg)
                return self.get_att(logical, attribute)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, parts = arg
                return str(separator).join(str(p) for p in self(parts))
            if key == "Fn::Select":
                index, items = self(arg)
                return items[int(index)]
            if key == "Fn::Split":
                separator, text = self(arg)
                return str(text).split(separator)
        return {k: self(v) for k, v in node.items()}

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))

        def value(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if name in self.values:
                return self.values[name]
            if "." in name:
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", value, str(text))


@dataclass
class Stack:
    """The deployed template's IAM: roles' statements, resource policies, event sources."""

    resources: dict[str, dict[str, Any]]  # translated, intrinsics resolved
    resolve: Resolver
    roles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # role logical id → statements
    role_arns: dict[str, str] = field(default_factory=dict)  # role ARN → logical id
    function_roles: dict[str, str] = field(default_factory=dict)  # function logical id → role logical id
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # table name → Properties

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == kind}

    def role_of(self, function: str) -> list[dict[str, Any]]:
        return self.roles[self.function_roles[function]]

    def role_by_arn(self, arn: str) -> list[dict[str, Any]]:
        if arn not in self.role_arns:
            raise KeyError(f"no role in the template has the ARN {arn}")
        return self.roles[self.role_arns[arn]]

    def queue_policies(self, queue_url: str) -> list[dict[str, Any]]:
        """The statements of every AWS::SQS::QueuePolicy naming this queue."""
        return [
            statement
            for policy in self.of_type("AWS::SQS::QueuePolicy").values()
            if queue_url in policy["Properties"]["Queues"]
            for statement in statements_of(policy["Properties"]["PolicyDocument"])
        ]


def _packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What ``sam package`` hands CloudFormation: code locations are S3 URIs."""
    result = copy.deepcopy(template)
    for resource in result["Resources"].values():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str):
                props[key] = "s3://calsync-artifacts/code.zip"
    return result


@cache
def stack() -> Stack:
    """template.yaml as it deploys (consumers on), translated by SAM and resolved: once per session."""
    return build(cfn.load(), PARAMETERS)


def build(template: dict[str, Any], parameters: Mapping[str, str]) -> Stack:
    """A SAM template as it deploys for these parameters, translated by SAM and resolved."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    raw = cfn.expand(template)
    sam = _packaged(cfn.deployed(raw, dict(parameters)))
    session = boto3.Session(region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    translated = Translator(managed_policy_map=None, sam_parser=Parser(), boto_session=session).translate(
        sam, parameter_values={}
    )
    resolve = Resolver(translated["Resources"], cfn.parameter_values(raw, dict(parameters)))
    resources = {k: _resolved(resolve, v) for k, v in translated["Resources"].items()}
    result = Stack(resources=resources, resolve=resolve)
    for logical, role in result.of_type("AWS::IAM::Role").items():
        props = role["Properties"]
        statements = [s for p in props.get("Policies", []) for s in statements_of(p["PolicyDocument"])]
        for arn in props.get("ManagedPolicyArns", []):
            statements += _managed(result, arn)
        result.roles[logical] = statements
        result.role_arns[resolve.get_att(logical, "Arn")] = logical
    # policies attached from their side, to roles by name
    for policy in [*result.of_type("AWS::IAM::Policy").values(), *result.of_type("AWS::IAM::ManagedPolicy").values()]:
        for role_name in policy["Properties"].get("Roles", []):
            for logical in result.roles:
                if resolve.name(logical) == role_name:
                    result.roles[logical] += statements_of(policy["Properties"]["PolicyDocument"])
    for logical, function in result.of_type("AWS::Lambda::Function").items():
        role_arn = function["Properties"]["Role"]
        result.function_roles[logical] = result.role_arns[role_arn]
    for logical, table in result.of_type("AWS::DynamoDB::Table").items():
        result.tables[resolve.name(logical)] = table["Properties"]
    return result


# What the checks read: an intrinsic in these that the Resolver cannot resolve is an error.
_CHECKED = (
    "AWS::IAM::",
    "AWS::Lambda::",
    "AWS::SQS::",
    "AWS::Events::",
    "AWS::Scheduler::",
    "AWS::S3::",
    "AWS::SNS::",
    "AWS::DynamoDB::",
    "AWS::SecretsManager::",
)


def _resolved(resolve: Resolver, resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with its intrinsics resolved. One the checks never read (a dashboard's body,
    say) may keep an intrinsic not modelled here."""
    try:
        resolved: dict[str, Any] = resolve(resource)
    except KeyError:
        if str(resource["Type"]).startswith(_CHECKED):
            raise
        return resource
    return resolved


def _managed(result: Stack, arn: str) -> list[dict[str, Any]]:
    for logical, policy in result.of_type("AWS::IAM::ManagedPolicy").items():
        if result.resolve.ref(logical) == arn:
            return statements_of(policy["Properties"]["PolicyDocument"])
    return managed_policy(arn)
