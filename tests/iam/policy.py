"""A small IAM policy evaluator for tests: does a set of policy statements allow one request?

moto and the local stack never check IAM, so the tests ask this instead. It follows IAM's
documented rules for what calsync's policies use (docs: "Policy evaluation logic", "IAM JSON
policy elements: Condition operators", "Using multiple keys and values"):

- an explicit ``Deny`` wins; otherwise a matching ``Allow`` allows; otherwise refused;
- ``Action``/``NotAction`` match case-insensitively with ``*`` and ``?``;
- ``Resource``/``NotResource`` match the ARN case-sensitively, segment by segment (``*`` and
  ``?`` never cross the five ``:`` separators but do cross ``/`` in the resource part);
- ``Principal`` (resource policies) by ``Service``/``AWS``/``*``;
- ``Condition``: every operator and every key must hold, any of a key's values may match;
  String*/Arn*/Bool/Null/Numeric* operators, ``IfExists``, and the set qualifiers
  ``ForAllValues:`` (true when the request has no value for the key: IAM's documented trap)
  and ``ForAnyValue:``. A single-valued operator over a key with several values in the request
  is refused (write a set qualifier); a negated operator holds when the key is absent.

An operator it does not know raises, so a new policy cannot pass by being misunderstood.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

ALLOW, DENY, REFUSED = "Allow", "Deny", "ImplicitDeny"


@dataclass(frozen=True)
class Request:
    """One authorisation IAM makes: an action on a resource ARN (``*`` for actions without
    resource-level permissions), with the request's condition keys (each may carry several
    values, e.g. ``dynamodb:LeadingKeys`` of a BatchGetItem) and, for resource policies, the
    calling principal as ``("Service", "events.amazonaws.com")``."""

    action: str
    resource: str
    context: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    principal: tuple[str, str] | None = None

    def __str__(self) -> str:
        keys = "".join(f" {k}={list(v)}" for k, v in sorted(self.context.items()))
        by = f" by {self.principal[1]}" if self.principal else ""
        return f"{self.action} on {self.resource}{keys}{by}"

    def value(self, key: str) -> tuple[str, ...] | None:
        wanted = key.lower()
        for name, values in self.context.items():
            if name.lower() == wanted:
                return tuple(values)
        return None


def context(**keys: str | Sequence[str]) -> dict[str, tuple[str, ...]]:
    """``context(dynamodb__LeadingKeys=["EVENT#1"])`` → ``{"dynamodb:LeadingKeys": ("EVENT#1",)}``."""
    return {k.replace("__", ":"): (v,) if isinstance(v, str) else tuple(v) for k, v in keys.items()}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's ``*``/``?`` wildcards (StringLike, Action)."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_like(pattern: str, arn: str) -> bool:
    """ArnLike / Resource matching: the six ARN parts matched one by one."""
    if pattern == "*":
        return True
    wanted, actual = pattern.split(":", 5), arn.split(":", 5)
    if len(wanted) != 6 or len(actual) != 6:
        return pattern == arn
    return all(like(w, a) for w, a in zip(wanted, actual, strict=True))


def action_matches(pattern: str, action: str) -> bool:
    return like(pattern, action, ignore_case=True)


# ------------------------------------------------------------------ conditions
def _numeric(op: str) -> Any:
    compare = {
        "Equals": lambda a, b: a == b,
        "NotEquals": lambda a, b: a != b,
        "LessThan": lambda a, b: a < b,
        "LessThanEquals": lambda a, b: a <= b,
        "GreaterThan": lambda a, b: a > b,
        "GreaterThanEquals": lambda a, b: a >= b,
    }[op]
    return lambda wanted, actual: compare(float(actual), float(wanted))


_MATCHERS: dict[str, Any] = {
    "StringEquals": lambda w, a: w == a,
    "StringEqualsIgnoreCase": lambda w, a: w.lower() == a.lower(),
    "StringLike": lambda w, a: like(w, a),
    "ArnEquals": arn_like,  # IAM: ArnEquals and ArnLike behave the same
    "ArnLike": arn_like,
    "Bool": lambda w, a: w.lower() == a.lower(),
    **{
        f"Numeric{op}": _numeric(op)
        for op in ("Equals", "LessThan", "LessThanEquals", "GreaterThan", "GreaterThanEquals")
    },
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def condition_holds(operator: str, key: str, wanted: Any, request: Request) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    wanted_values = [str(v).lower() if isinstance(v, bool) else str(v) for v in _list(wanted)]
    actual = request.value(key)
    if op == "Null":
        (flag,) = wanted_values
        return (actual is None or not actual) == (flag.lower() == "true")
    negated = op in _NEGATED
    base = _NEGATED.get(op, op)
    if base not in _MATCHERS:
        raise ValueError(f"condition operator {operator!r} is not modelled in tests/iam/policy.py")
    match = _MATCHERS[base]

    def one(value: str) -> bool:
        hit = any(match(w, value) for w in wanted_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in actual or ())
    if qualifier == "ForAnyValue":
        return any(one(v) for v in actual or ())
    if qualifier:
        raise ValueError(f"condition qualifier {qualifier!r} is not an IAM set operator")
    if not actual:
        return if_exists or negated
    if len(actual) > 1:
        return False  # a single-valued operator over a multivalued key: write ForAllValues/ForAnyValue
    return one(actual[0])


def conditions_hold(block: Mapping[str, Mapping[str, Any]], request: Request) -> bool:
    return all(
        condition_holds(operator, key, wanted, request)
        for operator, keys in block.items()
        for key, wanted in keys.items()
    )


# ------------------------------------------------------------------ statements
def _principal_matches(principal: Any, caller: tuple[str, str] | None) -> bool:
    if principal is None or principal == "*":
        return True  # no Principal: an identity policy, the caller is the role it is attached to
    if "*" in _list(principal.get("AWS", [])):
        return True
    if caller is None:
        return False
    kind, name = caller
    account = name.split(":")[4] if kind == "AWS" and name.startswith("arn:") else None
    for wanted in _list(principal.get(kind, [])):
        if wanted == name or (account and wanted in (account, f"arn:aws:iam::{account}:root")):
            return True  # the role itself, or its account (its identity policy decides)
    return False


def statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, request.action) for p in _list(statement["Action"])):
            return False
    elif any(action_matches(p, request.action) for p in _list(statement["NotAction"])):
        return False
    if "Resource" in statement:
        if not any(arn_like(p, request.resource) for p in _list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(arn_like(p, request.resource) for p in _list(statement["NotResource"])):
            return False
    elif "Principal" not in statement:
        return False  # an identity statement without Resource is invalid (a trust policy's is its role)
    if not _principal_matches(statement.get("Principal"), request.principal):
        return False
    return conditions_hold(statement.get("Condition", {}), request)


def decide(statements: Iterable[Mapping[str, Any]], request: Request) -> str:
    """``Allow``, ``Deny`` (an explicit deny matched) or ``ImplicitDeny`` (nothing allowed it)."""
    allowed = False
    for statement in statements:
        if statement_matches(statement, request):
            if statement["Effect"] == "Deny":
                return DENY
            allowed = allowed or statement["Effect"] == "Allow"
    return ALLOW if allowed else REFUSED


def allows(statements: Iterable[Mapping[str, Any]], request: Request) -> bool:
    return decide(statements, request) == ALLOW


def statements_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements (``Statement`` may be one object or a list)."""
    return [dict(s) for s in _list(document.get("Statement", []))]
