"""Read template.yaml and create its queues, tables and secrets against any AWS endpoint.

Tests (moto in-process), the local stack (moto server) and operators all provision from the
template itself, so what runs locally cannot drift from what deploys. moto's own
CloudFormation skips or breaks on several of our resource types, so this reads the
resources it needs directly.

template.yaml uses ``Fn::ForEach`` (the ``AWS::LanguageExtensions`` transform): :func:`load`
expands it the way CloudFormation does before anything else reads the template.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from calsync.webhooks.routing import QueueKind

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]
    pass


def _tag(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _short in ("GetAtt", "Sub", "Join", "If", "Not", "Equals", "Select", "Split", "FindInMap", "GetAZs", "ImportValue"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


def queue_logical_id(kind: QueueKind) -> str:
    """The template's queue for a routing kind: ``invitee-no-show`` → ``InviteeNoShowQueue``."""
    return f"{kind.pascal}Queue"


def processor_logical_id(kind: QueueKind) -> str:
    """The function consuming a routing kind's queue: ``other`` → ``OtherProcessor``."""
    return f"{kind.pascal}Processor"


def load_raw(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as written, ``Fn::ForEach`` loops and all."""
    with path.open() as handle:
        data: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    return data


def load(path: Path = TEMPLATE) -> dict[str, Any]:
    """The template as CloudFormation sees it after ``AWS::LanguageExtensions``: loops expanded."""
    return expand(load_raw(path))


# ------------------------------------------------------------------ AWS::LanguageExtensions
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
FOR_EACH = "Fn::ForEach::"
_EXPANDED_SECTIONS = ("Conditions", "Resources", "Outputs")


class ForEachError(ValueError):
    """A ``Fn::ForEach`` CloudFormation would reject (bad layout, duplicate keys)."""


def expand(template: dict[str, Any]) -> dict[str, Any]:
    """Expand every ``Fn::ForEach`` as the ``AWS::LanguageExtensions`` transform does.

    Loops may stand in Conditions, Resources (also anywhere inside a resource, e.g. one
    property map) and Outputs, and may nest. For each item of the collection (a list, or a
    ``Ref`` to a CommaDelimitedList parameter) the body is copied with ``${Id}`` replaced by
    the item and ``&{Id}`` by the item without non-alphanumerics, in keys and in every string
    (``Fn::Sub`` strings included), and ``{"Ref": Id}`` replaced by the item. Then, as the
    transform does, ``Ref``/``Fn::GetAtt`` whose target became a plain ``Fn::Sub`` string
    point at that logical id, and a ``Fn::FindInMap`` over plain strings is looked up.
    Expanding an expanded template changes nothing.
    """
    result = dict(template)
    parameters = template.get("Parameters", {})
    mappings = template.get("Mappings", {})
    for section in _EXPANDED_SECTIONS:
        if section in template:
            result[section] = _simplify(_expand(template[section], parameters, f"/{section}"), mappings)
    transform = template.get("Transform")
    if isinstance(transform, list) and LANGUAGE_EXTENSIONS in transform:
        result["Transform"] = [name for name in transform if name != LANGUAGE_EXTENSIONS]
    elif transform == LANGUAGE_EXTENSIONS:
        del result["Transform"]
    return result


def _expand(node: Any, parameters: dict[str, Any], where: str) -> Any:
    if isinstance(node, list):
        return [_expand(item, parameters, f"{where}/{i}") for i, item in enumerate(node)]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        expanded = (
            _for_each(key, value, parameters, where)
            if key.startswith(FOR_EACH)
            else {key: _expand(value, parameters, f"{where}/{key}")}
        )
        for out_key, out_value in expanded.items():
            if out_key in result:
                raise ForEachError(f"{where}: {key} produces {out_key!r}, which already exists")
            result[out_key] = out_value
    return result


def _for_each(key: str, value: Any, parameters: dict[str, Any], where: str) -> dict[str, Any]:
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[2], dict)):
        raise ForEachError(f"{where}: {key} must be [Identifier, Collection, {{OutputKey: OutputValue}}]")
    identifier, collection, body = value
    if identifier in parameters:
        raise ForEachError(f"{where}: {key}'s identifier {identifier!r} is also a parameter")
    items = _collection(collection, parameters, f"{where}/{key}")
    result: dict[str, Any] = {}
    for item in items:
        copy = _substitute(body, identifier, item)
        for out_key, out_value in _expand(copy, parameters, f"{where}/{key}").items():
            if out_key in result:
                raise ForEachError(f"{where}: {key} produces {out_key!r} twice; put the identifier in the key")
            result[out_key] = out_value
    return result


def _collection(collection: Any, parameters: dict[str, Any], where: str) -> list[str]:
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        spec = parameters.get(collection["Ref"], {})
        if spec.get("Type") != "CommaDelimitedList" or "Default" not in spec:
            raise ForEachError(f"{where}: a collection Ref must name a CommaDelimitedList parameter with a Default")
        default = spec["Default"]
        collection = default if isinstance(default, list) else [part.strip() for part in str(default).split(",")]
    if not isinstance(collection, list) or not all(isinstance(item, str | int | float) for item in collection):
        raise ForEachError(f"{where}: the collection must be a list of strings")
    return [str(item) for item in collection]


def _substitute(node: Any, identifier: str, item: str) -> Any:
    if isinstance(node, str):
        return node.replace(f"${{{identifier}}}", item).replace(f"&{{{identifier}}}", re.sub(r"[^0-9A-Za-z]", "", item))
    if isinstance(node, list):
        return [_substitute(value, identifier, item) for value in node]
    if isinstance(node, dict):
        if node == {"Ref": identifier}:
            return item
        return {_substitute(k, identifier, item): _substitute(v, identifier, item) for k, v in node.items()}
    return node


def _plain_sub(value: Any) -> Any:
    """``{"Fn::Sub": "InviteeCreatedQueue"}`` (nothing left to substitute) → the string."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"}:
        text = value["Fn::Sub"]
        if isinstance(text, str) and not re.search(r"\$\{[^!]", text):
            return text
    return value


def _simplify(node: Any, mappings: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_simplify(value, mappings) for value in node]
    if not isinstance(node, dict):
        return node
    node = {k: _simplify(v, mappings) for k, v in node.items()}
    if len(node) != 1:
        return node
    ((key, arg),) = node.items()
    if key == "Ref":
        return {"Ref": _plain_sub(arg)}
    if key == "Fn::GetAtt" and isinstance(arg, list):
        return {"Fn::GetAtt": [_plain_sub(part) for part in arg]}
    if key == "Fn::FindInMap" and isinstance(arg, list) and len(arg) == 3 and all(isinstance(a, str) for a in arg):
        name, top, second = arg
        with contextlib.suppress(KeyError, TypeError):
            return mappings[name][top][second]
    return node


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
    functions: dict[str, FunctionSpec] = field(default_factory=dict)

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
    def __init__(self, stack: Stack, region: str, account: str) -> None:
        self.stack = stack
        self.pseudo = {
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": "calsync-local",
        }

    def ref(self, name: str) -> str:
        stack = self.stack
        for source in (stack.parameters, stack.queue_urls, stack.tables, self.pseudo):
            if name in source:
                return source[name]
        return name

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg
                if attribute == "Arn" and logical in self.stack.queue_arns:
                    return self.stack.queue_arns[logical]
                if attribute == "QueueName" and logical in self.stack.queue_urls:
                    return self.stack.queue_urls[logical].rsplit("/", 1)[-1]
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

    if "SecretString" in props:
        value = str(props["SecretString"])
    else:
        generate = props.get("GenerateSecretString", {})
        data = json.loads(generate.get("SecretStringTemplate", "{}"))
        data[generate.get("GenerateStringKey", "password")] = random.token_urlsafe(generate.get("PasswordLength", 32))
        value = json.dumps(data)
    # an existing one keeps its value (the local stack restores and overrides its own)
    with contextlib.suppress(client.exceptions.ResourceExistsException):
        client.create_secret(Name=name, SecretString=value)


def provision(
    session: Any,
    *,
    template: dict[str, Any] | None = None,
    parameters: dict[str, str] | None = None,
    region: str = "us-east-1",
    account: str = "123456789012",
) -> Stack:
    """Create the template's queues (DLQs first), tables and functions' environments."""
    template = expand(template or load_raw())
    resources: dict[str, dict[str, Any]] = template["Resources"]
    stack = Stack(parameters=parameter_defaults(template, parameters))
    resolve = _Resolver(stack, region, account)
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
