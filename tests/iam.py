"""What a function's own IAM policy in template.yaml grants, and the AWS actions code asks for:
moto and the local stack do not check IAM, so tests compare the two."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from calsync.store import clients
from calsync_dev import template

# botocore's service name → IAM's action prefix, where they differ
_PREFIX = {"dynamodbstreams": "dynamodb"}


def action(service: str, operation: str) -> str:
    return f"{_PREFIX.get(service, service)}:{operation}"


def granted(function: str) -> list[str]:
    """The actions the function's own policy statements allow (patterns, as IAM reads them)."""
    resource = template.load()["Resources"][function]
    actions: list[str] = []
    for policy in resource["Properties"].get("Policies", []):
        for statement in policy.get("Statement", []) if isinstance(policy, dict) else []:
            if statement.get("Effect") == "Allow":
                allowed = statement["Action"]
                actions += [allowed] if isinstance(allowed, str) else allowed
    return actions


def not_granted(function: str, calls: set[str]) -> list[str]:
    allowed = granted(function)
    return sorted(call for call in calls if not any(fnmatch.fnmatchcase(call, pattern) for pattern in allowed))


@contextmanager
def recorded_calls() -> Iterator[set[str]]:
    """Every AWS action the functions' shared clients are asked for meanwhile."""
    found: set[str] = set()

    def record(model: Any, **_: Any) -> None:
        found.add(action(model.service_model.service_name, model.name))

    made = [make() for make in (clients.dynamodb, clients.sqs, clients.secretsmanager, clients.events)]
    for client in made:
        client.meta.events.register("before-call.*.*", record)
    try:
        yield found
    finally:
        for client in made:
            client.meta.events.unregister("before-call.*.*", record)
