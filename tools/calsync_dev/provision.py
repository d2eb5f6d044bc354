"""Provision a stack's resources in an AWS emulator (moto) from the expanded template:
queues (DLQs first), tables (with streams), secrets, event buses, schedule groups, and each
function's resolved environment. What it does not create (API Gateway, alarms, IAM, rules,
the dashboard) the local stack emulates or does without."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calsync_dev.template import ROOT, conditions, expand, load

if TYPE_CHECKING:
    from calsync.connections.records import Status


@dataclass
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]
    timeout: int


@dataclass
class Stack:
    """What was provisioned, by logical id, plus each function's resolved environment."""

    parameters: dict[str, str]
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    redrive: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    buckets: dict[str, str] = field(default_factory=dict)
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # what Ref gives for buses, schedule groups
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)  # what Fn::GetAtt gives

    def env(self, logical_id: str) -> dict[str, str]:
        return dict(self.functions[logical_id].environment)

    def dlq_for(self, queue_logical_id: str) -> str | None:
        policy = self.redrive.get(queue_logical_id)
        return policy["dlq"] if policy else None


def parameter_defaults(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    values.update(overrides or {})
    return values


class _Resolver:
    def __init__(self, stack: Stack, region: str, account: str, holds: dict[str, bool] | None = None) -> None:
        self.stack = stack
        self.holds = holds or {}  # the template's Conditions for the stack's parameters (Fn::If)
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "calsync-local",
        }

    def ref(self, name: str) -> str:
        stack = self.stack
        for source in (stack.parameters, stack.queue_urls, stack.tables, stack.names, self.pseudo):
            if name in source:
                return source[name]
        return name

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::If":
                name, yes, no = arg
                return self(yes if self.holds[name] else no)
            if key == "Fn::GetAtt":
                logical, attribute = arg
                if attribute == "Arn" and logical in self.stack.queue_arns:
                    return self.stack.queue_arns[logical]
                if attribute == "QueueName" and logical in self.stack.queue_urls:
                    return self.stack.queue_urls[logical].rsplit("/", 1)[-1]
                if (logical, attribute) in self.stack.attributes:
                    return self.stack.attributes[(logical, attribute)]
                return f"{logical}.{attribute}"
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))

                def value(match: re.Match[str]) -> str:
                    name = match.group(1)
                    return str(variables[name]) if name in variables else str(self.ref(name))

                return re.sub(r"\$\{([^}!]+)\}", value, text)
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        return value


def create_table(dynamodb: Any, resource: dict[str, Any], name: str) -> str:
    """Create one table exactly as the template declares it (keys, indexes, TTL)."""
    props = resource["Properties"]
    if name in dynamodb.list_tables()["TableNames"]:
        return name
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
    if props.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    dynamodb.create_table(**kwargs)
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        dynamodb.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
        )
    return name


def _create_secret(client: Any, name: str, props: dict[str, Any]) -> None:
    """The template's secret with its initial value (a generated key as CloudFormation would)."""
    import secrets as random
    import string

    if "SecretString" in props:
        value = str(props["SecretString"])
    else:
        generate = props.get("GenerateSecretString", {})
        data = json.loads(generate.get("SecretStringTemplate", "{}"))
        alphabet = string.ascii_letters + string.digits
        if not generate.get("ExcludePunctuation"):
            alphabet += "!#$%&()*+,-.:;<=>?@[]^_{|}~"
        length = int(generate.get("PasswordLength", 32))
        data[generate.get("GenerateStringKey", "password")] = "".join(random.choice(alphabet) for _ in range(length))
        value = json.dumps(data)
    # an existing one keeps its value (the local stack restores and overrides its own)
    with contextlib.suppress(client.exceptions.ResourceExistsException):
        client.create_secret(Name=name, SecretString=value)


def _provision_lifecycle(
    session: Any, resources: dict[str, dict[str, Any]], stack: Stack, resolve: _Resolver, region: str, account: str
) -> None:
    """Event buses and schedule groups exist; functions and roles have the ARNs others name."""
    events = session.client("events", region_name=region)
    scheduler = session.client("scheduler", region_name=region)
    for logical, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::Events::EventBus":
            name = str(resolve(props["Name"]))
            with contextlib.suppress(events.exceptions.ResourceAlreadyExistsException):
                events.create_event_bus(Name=name)
            stack.names[logical] = name
            stack.attributes[(logical, "Arn")] = f"arn:aws:events:{region}:{account}:event-bus/{name}"
        elif kind == "AWS::Scheduler::ScheduleGroup":
            name = str(resolve(props["Name"]))
            with contextlib.suppress(scheduler.exceptions.ConflictException):
                scheduler.create_schedule_group(Name=name)
            stack.names[logical] = name
        elif kind == "AWS::Serverless::Function":
            name = str(resolve(props.get("FunctionName", logical)))
            stack.attributes[(logical, "Arn")] = f"arn:aws:lambda:{region}:{account}:function:{name}"
        elif kind == "AWS::IAM::Role":
            stack.attributes[(logical, "Arn")] = f"arn:aws:iam::{account}:role/{logical}"


def _provision_buckets(
    session: Any, resources: dict[str, dict[str, Any]], stack: Stack, stage: str, region: str
) -> None:
    """The template's buckets (named as CloudFormation would not: the stack's own names), with
    their lifecycle rules; ``Ref`` gives the name, ``Fn::GetAtt Arn`` the ARN."""
    s3 = session.client("s3", region_name=region)
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::S3::Bucket":
            continue
        name = f"calsync-{stage}-{logical}".lower()
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            s3.create_bucket(Bucket=name)
        stack.names[logical] = stack.buckets[logical] = name
        stack.attributes[(logical, "Arn")] = f"arn:aws:s3:::{name}"


def provision(
    session: Any,
    *,
    template: dict[str, Any] | None = None,
    parameters: dict[str, str] | None = None,
    region: str = "us-east-1",
    account: str = "123456789012",
) -> Stack:
    """Create the template's queues (DLQs first), tables and functions' environments.

    Every resource, whatever its Condition: the local stack and the tests get the optional
    consumers (Slack, HTTP forwarding) and switch them on themselves; what a deploy creates for
    given parameters is ``calsync_dev.template.deployed``. ``Fn::If`` picks the branch the
    parameters' Conditions choose (e.g. a kept secret's ARN in the functions' environment)."""
    template = expand(template) if template else load()
    resources: dict[str, dict[str, Any]] = template["Resources"]
    stack = Stack(parameters=parameter_defaults(template, parameters))
    resolve = _Resolver(stack, region, account, conditions(template, parameters))
    stage = stack.parameters.get("Stage", "dev")
    sqs = session.client("sqs", region_name=region)
    dynamodb = session.client("dynamodb", region_name=region)

    queues = {k: v for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue"}
    ordered = sorted(queues, key=lambda k: "RedrivePolicy" in queues[k].get("Properties", {}))
    for logical in ordered:
        props = queues[logical].get("Properties", {})
        attributes = {
            "VisibilityTimeout": str(props.get("VisibilityTimeout", 30)),
            "MessageRetentionPeriod": str(props.get("MessageRetentionPeriod", 345600)),
        }
        policy = props.get("RedrivePolicy")
        if policy:
            target = resolve(policy["deadLetterTargetArn"])
            attributes["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": target, "maxReceiveCount": int(policy["maxReceiveCount"])}
            )
            dlq_logical = policy["deadLetterTargetArn"]["Fn::GetAtt"][0]
            stack.redrive[logical] = {"dlq": dlq_logical, "max_receive_count": int(policy["maxReceiveCount"])}
        url = sqs.create_queue(QueueName=f"calsync-{stage}-{logical}", Attributes=attributes)["QueueUrl"]
        stack.queue_urls[logical] = url
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        stack.queue_arns[logical] = arn

    for logical, resource in resources.items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            stack.tables[logical] = create_table(dynamodb, resource, f"calsync-{stage}-{logical}")
            stream = dynamodb.describe_table(TableName=stack.tables[logical])["Table"].get("LatestStreamArn")
            if stream:
                stack.attributes[(logical, "StreamArn")] = stream
    _provision_lifecycle(session, resources, stack, resolve, region, account)
    _provision_buckets(session, resources, stack, stage, region)

    secrets = session.client("secretsmanager", region_name=region)
    for logical, resource in resources.items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            props = resource["Properties"]
            name = str(resolve(props.get("Name", f"calsync-{stage}-{logical}")))
            stack.secrets[logical] = name
            _create_secret(secrets, name, props)

    globals_env = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    globals_timeout = template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    for logical, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = {**globals_env, **props.get("Environment", {}).get("Variables", {})}
        stack.functions[logical] = FunctionSpec(
            logical_id=logical,
            code_uri=ROOT / props["CodeUri"],
            handler=props["Handler"],
            environment={k: str(resolve(v)) for k, v in env.items()},
            events=resolve(props.get("Events", {})),
            timeout=int(props.get("Timeout", globals_timeout)),
        )
    return stack


def register_webhook_connection(
    environment: Mapping[str, str],
    connection_id: str,
    signing_key: str,
    *,
    status: Status = "active",
    dynamodb: Any = None,
    secretsmanager: Any = None,
) -> None:
    """A connection the receiver accepts deliveries for, without connecting to Calendly: its
    registry record unless it has one (the receiver reads Secrets Manager only for registered
    ids) and its signing key, where ``environment`` (the receiver's: ``BOOKINGS_TABLE_NAME``,
    ``SIGNING_KEY_PREFIX``) says. For tests, benchmarks and the local stack (``status``
    ``reauth_required``: the scheduled jobs leave it alone)."""
    from calsync import compose
    from calsync.connections.records import Connection

    keys = compose.signing_keys(environment["SIGNING_KEY_PREFIX"], ttl_seconds=300, secretsmanager=secretsmanager)
    registry = compose.connection_registry(environment["BOOKINGS_TABLE_NAME"], dynamodb=dynamodb)
    if registry.get(connection_id) is None:
        registry.register(
            Connection(
                connection_id=connection_id,
                kind="pat",
                status=status,
                organization="https://api.calendly.com/organizations/WEBHOOKS-ONLY",
                owner=None,
                callback_url=f"https://example.invalid/webhooks/calendly/{connection_id}",
                token_secret="",  # none: this connection only receives webhooks
                signing_key_secret=keys.secret_name(connection_id),
            ),
            now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    keys.put(connection_id, signing_key)
