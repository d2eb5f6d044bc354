"""What template.yaml's IAM grants, and the AWS requests code makes: moto and the local stack
do not check IAM, so tests compare the two with a policy evaluator (tests/policy.py).

The template side: template.yaml as it deploys (``Fn::ForEach`` expanded, the optional
consumers switched on, ``Fn::If`` resolved), run through SAM's own translator
(``samtranslator``) so every function's role holds exactly what SAM writes into it: the inline
statements, the SAM policy templates expanded (``SQSSendMessagePolicy`` …), the managed
policies it attaches for event sources and tracing, the dead-letter and on-failure destination
policies. Every intrinsic is then resolved to a string for a fixed account, region and stage,
with the physical names ``calsync_dev.provision`` gives the emulator (so the names a function
reads from its environment in moto are the ones its policy names). Parsed once per session.

The request side: each recorded boto3 call becomes the authorisations IAM makes for it, with
the concrete ARN (table or index, queue, secret with its name, bus, schedule, role passed,
S3 object) and its condition keys (``dynamodb:LeadingKeys`` from the key or the Query's key
condition, ``iam:PassedToService`` for a role handed to the Scheduler, ``s3:prefix``), plus what
a request implies another principal will do with the role passed (the Scheduler invoking the
target and writing its dead-letter queue with the reminder role).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import boto3  # at import: urllib3 probes a socket when first imported (unit tests block sockets)

from calsync.store import clients
from calsync_dev import template as cfn
from tests.policy import Request, allows, statements_of

ACCOUNT, REGION, PARTITION = "123456789012", "us-east-1", "aws"  # moto's account, the tests' region
SECRET_SUFFIX = "-AbC123"  # Secrets Manager appends 6 random characters to a secret's ARN
STREAM_LABEL = "2026-01-01T00:00:00.000"
# Optional parts switched on, so their policies are checked too (the tests provision them all).
PARAMETERS = {"SlackNotifications": "on", "HttpForwarding": "on"}

# botocore's service name → IAM's action prefix, where they differ
_PREFIX = {"dynamodbstreams": "dynamodb"}


def action(service: str, operation: str) -> str:
    return f"{_PREFIX.get(service, service)}:{operation}"


# ------------------------------------------------------------------ AWS managed policies
# The documents of the AWS managed policies SAM attaches (as published by AWS, logs and X-Ray
# on "*"). An ARN not listed here fails loudly: describe it before relying on it.
_LOGS = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [{"Effect": "Allow", "Action": _LOGS, "Resource": "*"}],
    "service-role/AWSLambdaSQSQueueExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", *_LOGS],
            "Resource": "*",
        }
    ],
    "service-role/AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                *_LOGS,
            ],
            "Resource": "*",
        }
    ],
    "AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "service-role/AmazonAPIGatewayPushToCloudWatchLogs": [
        {
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:DescribeLogGroups",
                "logs:DescribeLogStreams",
                "logs:PutLogEvents",
                "logs:GetLogEvents",
                "logs:FilterLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


def managed_policy(arn: str) -> list[dict[str, Any]]:
    prefix = f"arn:{PARTITION}:iam::aws:policy/"
    if not arn.startswith(prefix) or arn.removeprefix(prefix) not in MANAGED_POLICIES:
        raise KeyError(f"managed policy {arn} is not described in tests/iam.py MANAGED_POLICIES")
    return copy.deepcopy(MANAGED_POLICIES[arn.removeprefix(prefix)])


# ------------------------------------------------------------------ the template as deployed
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
        raise KeyError(f"Fn::GetAtt {logical}.{attribute} ({kind}) is not modelled in tests/iam.py Resolver")

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


# ------------------------------------------------------------------ requests → authorisations
@dataclass(frozen=True)
class Check:
    """One authorisation: a request made with a role (its logical id)."""

    role: str
    request: Request

    def __str__(self) -> str:
        return f"{self.role}: {self.request}"


@dataclass(frozen=True)
class Call:
    """One boto3 call a function made: botocore's service name, the operation and its parameters."""

    service: str
    operation: str
    params: Mapping[str, Any]

    @property
    def action(self) -> str:
        return action(self.service, self.operation)


class Calls(list[Call]):
    """Recorded calls; ``"dynamodb:Query" in calls`` asks whether an action was called."""

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return any(call.action == item for call in self)
        return super().__contains__(item)


def _secret_arn(secret_id: str) -> str:
    if secret_id.startswith("arn:"):  # moto's own random suffix → ours
        name = re.sub(r"-[A-Za-z0-9]{6}$", "", secret_id.split(":secret:", 1)[1])
    else:
        name = secret_id
    return stack().resolve.arn("secretsmanager", f"secret:{name}{SECRET_SUFFIX}")


def _table_arn(table: str, index: str | None = None) -> str:
    name = table.split(":table/", 1)[1].split("/", 1)[0] if table.startswith("arn:") else table
    return stack().resolve.arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))


def _hash_key(table: str, index: str | None = None) -> str:
    name = table.split(":table/", 1)[1].split("/", 1)[0] if table.startswith("arn:") else table
    props = stack().tables.get(name)
    if props is None:
        raise KeyError(f"table {name} is not one of the template's tables")
    schema = props["KeySchema"]
    if index is not None:
        (spec,) = (
            i
            for i in props.get("GlobalSecondaryIndexes", []) + props.get("LocalSecondaryIndexes", [])
            if i["IndexName"] == index
        )
        schema = spec["KeySchema"]
    return next(str(k["AttributeName"]) for k in schema if k["KeyType"] == "HASH")


def _attr(value: Mapping[str, Any]) -> str:
    ((_, scalar),) = value.items()
    return str(scalar)


def _leading_key_of_query(params: Mapping[str, Any]) -> tuple[str, ...]:
    hash_key = _hash_key(params["TableName"], params.get("IndexName"))
    if "KeyConditions" in params:
        return tuple(_attr(v) for v in params["KeyConditions"][hash_key]["AttributeValueList"])
    names = {alias: name for alias, name in params.get("ExpressionAttributeNames", {}).items()}
    for left, right in re.findall(r"([#\w]+)\s*=\s*(:\w+)", params["KeyConditionExpression"]):
        if names.get(left, left) == hash_key:
            return (_attr(params["ExpressionAttributeValues"][right]),)
    raise ValueError(f"no partition key condition in {params['KeyConditionExpression']!r}")


def _item_request(operation: str, table: str, key_or_item: Mapping[str, Any]) -> Request:
    leading = (_attr(key_or_item[_hash_key(table)]),)
    return Request(f"dynamodb:{operation}", _table_arn(table), {"dynamodb:LeadingKeys": leading})


def _dynamodb(operation: str, params: Mapping[str, Any]) -> list[Request]:
    if operation in ("GetItem", "DeleteItem", "UpdateItem"):
        return [_item_request(operation, params["TableName"], params["Key"])]
    if operation == "PutItem":
        return [_item_request(operation, params["TableName"], params["Item"])]
    if operation == "Query":
        arn = _table_arn(params["TableName"], params.get("IndexName"))
        return [Request("dynamodb:Query", arn, {"dynamodb:LeadingKeys": _leading_key_of_query(params)})]
    if operation == "BatchGetItem":
        return [
            Request(
                "dynamodb:BatchGetItem",
                _table_arn(table),
                {"dynamodb:LeadingKeys": tuple(_attr(key[_hash_key(table)]) for key in request["Keys"])},
            )
            for table, request in params["RequestItems"].items()
        ]
    if operation == "BatchWriteItem":
        return [
            Request(
                "dynamodb:BatchWriteItem",
                _table_arn(table),
                {
                    "dynamodb:LeadingKeys": tuple(
                        _attr((w.get("PutRequest", {}).get("Item") or w["DeleteRequest"]["Key"])[_hash_key(table)])
                        for w in writes
                    )
                },
            )
            for table, writes in params["RequestItems"].items()
        ]
    if operation in ("TransactWriteItems", "TransactGetItems"):
        parts = {
            "Put": "PutItem",
            "Update": "UpdateItem",
            "Delete": "DeleteItem",
            "ConditionCheck": "ConditionCheckItem",
            "Get": "GetItem",
        }
        requests = []
        for item in params["TransactItems"]:
            ((kind, spec),) = item.items()
            requests.append(_item_request(parts[kind], spec["TableName"], spec.get("Key") or spec["Item"]))
        return requests
    if "TableName" in params:  # Scan, DescribeTable, …: the table (or index), no key
        return [Request(f"dynamodb:{operation}", _table_arn(params["TableName"], params.get("IndexName")))]
    return [Request(f"dynamodb:{operation}", "*")]


_SQS_BATCH = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def _sqs(operation: str, params: Mapping[str, Any]) -> list[Request]:
    name = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1] if "QueueUrl" in params else params.get("QueueName")
    resource = stack().resolve.arn("sqs", name) if name else "*"
    return [Request(f"sqs:{_SQS_BATCH.get(operation, operation)}", resource)]


def _events(operation: str, params: Mapping[str, Any]) -> list[Request]:
    if operation != "PutEvents":
        bus = params.get("EventBusName", params.get("Name"))
        return [Request(f"events:{operation}", _bus_arn(bus) if bus else "*")]
    buses = dict.fromkeys(str(entry.get("EventBusName", "default")) for entry in params["Entries"])
    return [Request("events:PutEvents", _bus_arn(bus)) for bus in buses]


def _bus_arn(bus: str) -> str:
    return bus if bus.startswith("arn:") else stack().resolve.arn("events", f"event-bus/{bus}")


SCHEDULER = "scheduler.amazonaws.com"


def _scheduler(operation: str, params: Mapping[str, Any]) -> tuple[list[Request], list[tuple[str, Request]]]:
    """The schedule's own request, the role passed, and what the Scheduler will do with that role."""
    if "Name" not in params:
        return [Request(f"scheduler:{operation}", "*")], []
    group = params.get("GroupName", "default")
    requests = [
        Request(f"scheduler:{operation}", stack().resolve.arn("scheduler", f"schedule/{group}/{params['Name']}"))
    ]
    delegated: list[tuple[str, Request]] = []
    target = params.get("Target")
    if target and operation in ("CreateSchedule", "UpdateSchedule"):
        role = target["RoleArn"]
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": (SCHEDULER,)}))
        delegated += [(role, request) for request in target_requests(target["Arn"], target.get("Input"))]
        if "DeadLetterConfig" in target:
            delegated += [(role, request) for request in target_requests(target["DeadLetterConfig"]["Arn"])]
    return requests, delegated


def target_requests(arn: str, _input: Any = None) -> list[Request]:
    """What a service does to deliver to a target ARN (a function, a queue, a topic, a bus)."""
    service = arn.split(":")[2]
    if service == "lambda":
        return [Request("lambda:InvokeFunction", arn)]
    if service == "sqs":
        return [Request("sqs:SendMessage", arn)]
    if service == "sns":
        return [Request("sns:Publish", arn)]
    if service == "events":
        return [Request("events:PutEvents", arn)]
    if service == "s3":
        return [Request("s3:PutObject", f"{arn}/*")]
    raise ValueError(f"no delivery model for a target {arn}")


_S3_ACTIONS = {
    "HeadObject": "GetObject",
    "ListObjectsV2": "ListBucket",
    "ListObjects": "ListBucket",
    "HeadBucket": "ListBucket",
}


def _s3(operation: str, params: Mapping[str, Any]) -> list[Request]:
    bucket = params.get("Bucket")
    if bucket is None:
        return [Request(f"s3:{operation}", "*")]
    bucket_arn = f"arn:{PARTITION}:s3:::{bucket}"
    if operation == "DeleteObjects":
        return [Request("s3:DeleteObject", f"{bucket_arn}/{o['Key']}") for o in params["Delete"]["Objects"]]
    if operation == "CopyObject":
        source = params["CopySource"]
        source = f"{source['Bucket']}/{source['Key']}" if isinstance(source, Mapping) else str(source).lstrip("/")
        return [
            Request("s3:GetObject", f"arn:{PARTITION}:s3:::{source}"),
            Request("s3:PutObject", f"{bucket_arn}/{params['Key']}"),
        ]
    iam_action = f"s3:{_S3_ACTIONS.get(operation, operation)}"
    if "Key" in params:
        requests = [Request(iam_action, f"{bucket_arn}/{params['Key']}")]
        if operation == "PutObject" and params.get("Tagging"):  # tags on upload: PutObjectTagging too
            requests.append(Request("s3:PutObjectTagging", requests[0].resource))
        return requests
    keys = {"s3:prefix": (str(params["Prefix"]),)} if "Prefix" in params else {}
    return [Request(iam_action, bucket_arn, keys)]


def authorisations(role: str, call: Call) -> list[Check]:
    """Every authorisation IAM makes for one call made with this role (its logical id)."""
    service, operation, params = call.service, call.operation, call.params
    delegated: list[tuple[str, Request]] = []
    if service in ("dynamodb", "dynamodbstreams"):
        requests = _dynamodb(operation, params) if service == "dynamodb" else [Request(call.action, "*")]
    elif service == "sqs":
        requests = _sqs(operation, params)
    elif service == "secretsmanager":
        secret = params.get("SecretId", params.get("Name"))
        requests = [Request(call.action, _secret_arn(secret) if secret else "*")]
        if operation == "CreateSecret" and params.get("Tags"):  # tags on create: TagResource too
            requests.append(Request("secretsmanager:TagResource", requests[0].resource))
    elif service == "events":
        requests = _events(operation, params)
    elif service == "scheduler":
        requests, delegated = _scheduler(operation, params)
    elif service == "s3":
        requests = _s3(operation, params)
    elif service == "lambda" and operation == "Invoke":
        requests = [
            Request("lambda:InvokeFunction", stack().resolve.arn("lambda", f"function:{params['FunctionName']}"))
        ]
    else:  # a service not modelled here: its action on "*" (a policy scoped to an ARN will say so)
        requests = [Request(call.action, "*")]
    checks = [Check(role, request) for request in requests]
    for role_arn, request in delegated:
        checks.append(Check(stack().role_arns.get(role_arn, role_arn), request))
    return checks


def refused(checks: Iterable[Check]) -> list[str]:
    """The checks the role's statements do not allow (a role ARN unknown to the template: refused)."""
    roles = stack().roles
    found = []
    for check in checks:
        if check.role not in roles or not allows(roles[check.role], check.request):
            found.append(str(check))
    return sorted(set(found))


def checks(function: str, calls: Iterable[Call]) -> list[Check]:
    """Every authorisation the function's calls need, made with its role or a role it passed."""
    role = stack().function_roles[function]
    return [check for call in calls for check in authorisations(role, call)]


def not_granted(function: str, calls: Iterable[Call]) -> list[str]:
    """The authorisations the function's calls need that no role allows, e.g.
    ``"ReceiverFunctionRole: sqs:SendMessage on arn:aws:sqs:…:calsync-dev-OtherDLQ"``."""
    return refused(checks(function, calls))


@contextmanager
def recorded_calls() -> Iterator[Calls]:
    """Every AWS call (with its parameters) the functions' shared clients are asked for meanwhile."""
    found = Calls()

    def record(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        found.append(Call(model.service_model.service_name, model.name, copy.deepcopy(dict(params))))

    made = [
        make() for make in (clients.dynamodb, clients.sqs, clients.secretsmanager, clients.events, clients.scheduler)
    ]
    for client in made:
        client.meta.events.register("before-parameter-build.*.*", record)
    try:
        yield found
    finally:
        for client in made:
            client.meta.events.unregister("before-parameter-build.*.*", record)


# ------------------------------------------------------------------ what services do on the stack's behalf
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
    stack_ = stack()
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
    stack_ = stack()
    found = []
    for logical, rule in stack_.of_type("AWS::Events::Rule").items():
        rule_arn = stack_.resolve.get_att(logical, "Arn")
        keys = {"aws:SourceArn": (rule_arn,), "aws:SourceAccount": (ACCOUNT,)}
        for target in rule["Properties"].get("Targets", []):
            arns = [target["Arn"]] + ([target["DeadLetterConfig"]["Arn"]] if "DeadLetterConfig" in target else [])
            for arn in arns:
                for request in target_requests(arn):
                    found.append((logical, Request(request.action, request.resource, keys, EVENTS_SERVICE)))
    return found


def resource_policy(arn: str) -> list[dict[str, Any]]:
    """The resource-based policy statements of a queue or a function in the template."""
    stack_ = stack()
    service = arn.split(":")[2]
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
    return statements_of(stack().resources[role]["Properties"]["AssumeRolePolicyDocument"])
