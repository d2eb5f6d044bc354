"""A tiny in-memory DynamoDB *client* (not a port) for the expressions the bookings repository emits.

It understands exactly: ``SET a = :v, b = if_not_exists(b, :v)`` updates, conditions
that are an ``OR`` of ``attribute_not_exists(x)`` and ``x < :v`` terms, and reads of one
item projected to ``#a, #b`` names. Anything else
raises, so a new expression cannot silently pass. The convergence tests check that
it ends in the same state as moto for the same deliveries.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from botocore.exceptions import ClientError

_SET = re.compile(r"^(#\w+) = (?:(:\w+)|if_not_exists\((#\w+), (:\w+)\))$")
_NOT_EXISTS = re.compile(r"^attribute_not_exists\((#?\w+)\)$")
_LESS = re.compile(r"^(#\w+) < (:\w+)$")


class FakeDynamoDB:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def _key(self, key: dict[str, Any]) -> tuple[str, str]:
        return key["PK"]["S"], key["SK"]["S"]

    def _check(
        self, item: dict[str, Any] | None, condition: str | None, names: dict[str, str], values: dict[str, Any]
    ) -> None:
        if condition is None:
            return
        if any(self._holds(item, term, names, values) for term in condition.split(" OR ")):
            return
        raise ClientError({"Error": {"Code": "ConditionalCheckFailedException", "Message": "failed"}}, "Write")

    def _holds(self, item: dict[str, Any] | None, term: str, names: dict[str, str], values: dict[str, Any]) -> bool:
        if m := _NOT_EXISTS.match(term):
            return item is None or names.get(m.group(1), m.group(1)) not in item
        if m := _LESS.match(term):
            stored = (item or {}).get(names[m.group(1)])
            return stored is not None and bool(stored["S"] < values[m.group(2)]["S"])
        raise AssertionError(f"fake cannot evaluate condition {term!r}")

    def update_item(self, **kw: Any) -> dict[str, Any]:
        key = self._key(kw["Key"])
        names, values = kw.get("ExpressionAttributeNames", {}), kw.get("ExpressionAttributeValues", {})
        current = self.items.get(key)
        self._check(current, kw.get("ConditionExpression"), names, values)
        item = copy.deepcopy(current) if current else {"PK": {"S": key[0]}, "SK": {"S": key[1]}}
        expression = kw["UpdateExpression"]
        assert expression.startswith("SET ")
        for part in re.split(r", (?=#)", expression[4:]):
            m = _SET.match(part)
            if m is None:
                raise AssertionError(f"fake cannot evaluate {part!r}")
            attr = names[m.group(1)]
            if m.group(2):
                item[attr] = values[m.group(2)]
            elif attr not in item:
                item[attr] = values[m.group(4)]
        self.items[key] = item
        return {}

    def get_item(self, **kw: Any) -> dict[str, Any]:
        item = self.items.get(self._key(kw["Key"]))
        if item is None:
            return {}
        names = kw.get("ExpressionAttributeNames", {})
        wanted = {names[n] for n in kw["ProjectionExpression"].split(", ")} if "ProjectionExpression" in kw else None
        return {"Item": {k: copy.deepcopy(v) for k, v in item.items() if wanted is None or k in wanted}}

    def put_item(self, **kw: Any) -> dict[str, Any]:
        item = kw["Item"]
        key = self._key(item)
        self._check(self.items.get(key), kw.get("ConditionExpression"), kw.get("ExpressionAttributeNames", {}), {})
        self.items[key] = copy.deepcopy(item)
        return {}

    def scan(self, **kw: Any) -> dict[str, Any]:
        return {"Items": [copy.deepcopy(v) for _, v in sorted(self.items.items())]}
