"""Each recorded boto3 call → the authorisations IAM makes for it: the concrete ARN (table or
index, queue, secret with its name, bus, schedule, role passed, S3 object) and the condition keys
(``dynamodb:LeadingKeys`` from the key, the item or the Query's key condition,
``iam:PassedToService`` for a role handed to the Scheduler, ``s3:prefix``), plus what the call
implies another principal does with a role passed (the Scheduler invoking the target and
writing its dead-letter queue with the reminder role)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.iam import deployed
from tests.iam.deployed import PARTITION, SECRET_SUFFIX
from tests.iam.policy import Request

# botocore's service name → IAM's action prefix, where they differ
_PREFIX = {"dynamodbstreams": "dynamodb"}


def action(service: str, operation: str) -> str:
    return f"{_PREFIX.get(service, service)}:{operation}"


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
    return deployed.stack().resolve.arn("secretsmanager", f"secret:{name}{SECRET_SUFFIX}")


def _table_arn(table: str, index: str | None = None) -> str:
    name = table.split(":table/", 1)[1].split("/", 1)[0] if table.startswith("arn:") else table
    return deployed.stack().resolve.arn("dynamodb", f"table/{name}" + (f"/index/{index}" if index else ""))


def _hash_key(table: str, index: str | None = None) -> str:
    name = table.split(":table/", 1)[1].split("/", 1)[0] if table.startswith("arn:") else table
    props = deployed.stack().tables.get(name)
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
    names = dict(params.get("ExpressionAttributeNames", {}))
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
    resource = deployed.stack().resolve.arn("sqs", name) if name else "*"
    return [Request(f"sqs:{_SQS_BATCH.get(operation, operation)}", resource)]


def _events(operation: str, params: Mapping[str, Any]) -> list[Request]:
    if operation != "PutEvents":
        bus = params.get("EventBusName", params.get("Name"))
        return [Request(f"events:{operation}", _bus_arn(bus) if bus else "*")]
    # each entry is authorised on its bus, with its source and detail-type as condition keys
    entries = dict.fromkeys(
        (str(e.get("EventBusName", "default")), str(e.get("Source", "")), str(e.get("DetailType", "")))
        for e in params["Entries"]
    )
    return [
        Request("events:PutEvents", _bus_arn(bus), {"events:source": (source,), "events:detail-type": (kind,)})
        for bus, source, kind in entries
    ]


def _bus_arn(bus: str) -> str:
    return bus if bus.startswith("arn:") else deployed.stack().resolve.arn("events", f"event-bus/{bus}")


SCHEDULER = "scheduler.amazonaws.com"


def _scheduler(operation: str, params: Mapping[str, Any]) -> tuple[list[Request], list[tuple[str, Request]]]:
    """The schedule's own request, the role passed, and what the Scheduler will do with that role."""
    if "Name" not in params:
        return [Request(f"scheduler:{operation}", "*")], []
    group = params.get("GroupName", "default")
    requests = [
        Request(
            f"scheduler:{operation}", deployed.stack().resolve.arn("scheduler", f"schedule/{group}/{params['Name']}")
        )
    ]
    delegated: list[tuple[str, Request]] = []
    target = params.get("Target")
    if target and operation in ("CreateSchedule", "UpdateSchedule"):
        role = target["RoleArn"]
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": (SCHEDULER,)}))
        delegated += [(role, request) for request in target_requests(target["Arn"])]
        if "DeadLetterConfig" in target:
            delegated += [(role, request) for request in target_requests(target["DeadLetterConfig"]["Arn"])]
    return requests, delegated


def target_requests(arn: str) -> list[Request]:
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
    if service == "firehose":  # EventBridge puts events on a stream with PutRecordBatch
        return [Request("firehose:PutRecordBatch", arn)]
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
        if operation in ("GetObject", "HeadObject"):
            # A key that is not there is 404 NoSuchKey only with ListBucket on the bucket; without it
            # S3 answers 403 AccessDenied, which a caller cannot tell from a real refusal.
            requests.append(Request("s3:ListBucket", bucket_arn))
        return requests
    keys = {"s3:prefix": (str(params["Prefix"]),)} if "Prefix" in params else {}
    return [Request(iam_action, bucket_arn, keys)]


def authorisations(role: str, call: Call) -> list[Check]:
    """Every authorisation IAM makes for one call made with this role (its logical id)."""
    service, operation, params = call.service, call.operation, call.params
    delegated: list[tuple[str, Request]] = []
    if service == "dynamodb":
        requests = _dynamodb(operation, params)
    elif service == "dynamodbstreams":
        requests = [Request(call.action, str(params.get("StreamArn", "*")))]
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
        function = str(params["FunctionName"])
        arn = (
            function if function.startswith("arn:") else deployed.stack().resolve.arn("lambda", f"function:{function}")
        )
        requests = [Request("lambda:InvokeFunction", arn)]
    else:  # a service not modelled here: its action on "*" (a policy scoped to an ARN will say so)
        requests = [Request(call.action, "*")]
    checks = [Check(role, request) for request in requests]
    for role_arn, request in delegated:
        checks.append(Check(deployed.stack().role_arns.get(role_arn, role_arn), request))
    return checks
