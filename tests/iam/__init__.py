"""What template.yaml's IAM grants, and the AWS requests code makes: moto and the local stack
do not check IAM, so tests compare the two with a policy evaluator (``tests.iam.policy``).
``deployed``: the roles and resource policies as SAM deploys them; ``requests``: each recorded
call as the authorisations IAM makes; ``services``: what Lambda, EventBridge and the Scheduler do
with them. docs/iam-checks.md says how it works and where each path is checked."""

from __future__ import annotations

import copy
import importlib
import inspect
import pkgutil
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from tests.iam import deployed
from tests.iam.deployed import ACCOUNT, PARAMETERS, REGION, Stack, build, stack
from tests.iam.policy import allows
from tests.iam.requests import SCHEDULER, Call, Calls, Check, action, authorisations, target_requests
from tests.iam.services import resource_policy, rule_deliveries, service_checks, trust

__all__ = [
    "ACCOUNT",
    "PARAMETERS",
    "REGION",
    "SCHEDULER",
    "Call",
    "Calls",
    "Check",
    "Stack",
    "action",
    "allowed",
    "authorisations",
    "build",
    "checks",
    "not_granted",
    "recorded_calls",
    "refused",
    "resource_policy",
    "rule_deliveries",
    "service_checks",
    "stack",
    "target_requests",
    "trust",
]


RESOURCE_POLICIES = ("sqs", "s3", "lambda")  # services whose resource policies the template may hold


def allowed(check: Check) -> bool:
    """Does the role allow the request, with no explicit Deny in the resource's own policy (a
    bucket's TLS-only rule, say)? Requests go over HTTPS (``aws:SecureTransport``), as the role."""
    stack_ = deployed.stack()
    if check.role not in stack_.roles:
        return False  # a role ARN unknown to the template
    request = check.request
    caller = ("AWS", stack_.resolve.get_att(check.role, "Arn"))
    request = replace(request, context={"aws:SecureTransport": ("true",), **request.context}, principal=caller)
    service = request.resource.split(":")[2] if request.resource.startswith("arn:") else ""
    own = resource_policy(request.resource) if service in RESOURCE_POLICIES else []
    return allows([*stack_.roles[check.role], *own], request)


def refused(checks: Iterable[Check]) -> list[str]:
    """The checks that are not allowed (``allowed``), as text."""
    return sorted({str(check) for check in checks if not allowed(check)})


def checks(function: str, calls: Iterable[Call]) -> list[Check]:
    """Every authorisation the function's calls need, made with its role or a role it passed."""
    role = deployed.stack().function_roles[function]
    return [check for call in calls for check in authorisations(role, call)]


def not_granted(function: str, calls: Iterable[Call]) -> list[str]:
    """The authorisations the function's calls need that no role allows, e.g.
    ``"ReceiverFunctionRole: sqs:SendMessage on arn:aws:sqs:…:calsync-dev-OtherDLQ"``."""
    return refused(checks(function, calls))


def _is_aws_module(name: str) -> bool:
    return name.startswith("calsync.aws") or name.rsplit(".", 1)[-1].startswith("aws_")


def _client_factories() -> list[Any]:
    """Every cached, argument-less factory in an AWS module (``calsync.aws`` and each feature's
    ``aws_*`` adapters: ``clients.sqs``, a new one for another service wherever it lives): the
    functions' shared AWS clients come from these."""
    import calsync

    for module in pkgutil.walk_packages(calsync.__path__, "calsync."):
        if _is_aws_module(module.name):
            importlib.import_module(module.name)
    found: dict[int, Any] = {}
    for name, module in list(sys.modules.items()):
        if _is_aws_module(name) and module is not None:
            for value in vars(module).values():
                wrapped = getattr(value, "__wrapped__", None)
                if hasattr(value, "cache_clear") and wrapped and not inspect.signature(wrapped).parameters:
                    found[id(value)] = value
    return list(found.values())


@contextmanager
def recorded_calls() -> Iterator[Calls]:
    """Every AWS call (with its parameters) the functions' shared clients are asked for meanwhile."""
    found = Calls()

    def record(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        found.append(Call(model.service_model.service_name, model.name, copy.deepcopy(dict(params))))

    made = [client for make in _client_factories() if hasattr(client := make(), "meta")]
    for client in made:
        client.meta.events.register("before-parameter-build.*.*", record)
    try:
        yield found
    finally:
        for client in made:
            client.meta.events.unregister("before-parameter-build.*.*", record)
