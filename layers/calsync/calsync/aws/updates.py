"""One DynamoDB ``UpdateExpression`` built clause by clause, with placeholder names and values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calsync.aws import keys
from calsync.aws.dynamo import serialise


class Update:
    """Builds one UpdateExpression with placeholder names and values."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.key_values: dict[str, Any] = {}  # index keys it sets, for ``keys.check_sizes``

    def _placeholders(self, name: str, value: Any) -> tuple[str, str]:
        index = len(self.names)
        if name in keys.KEY_ATTRIBUTES:
            self.key_values[name] = value
        self.names[f"#n{index}"] = name
        self.values[f":v{index}"] = serialise(value)
        return f"#n{index}", f":v{index}"

    def set(self, name: str, value: Any) -> None:
        n, v = self._placeholders(name, value)
        self.parts.append(f"{n} = {v}")

    def set_if_absent(self, name: str, value: Any) -> None:
        n, v = self._placeholders(name, value)
        self.parts.append(f"{n} = if_not_exists({n}, {v})")

    def set_all(self, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            self.set(name, value)

    def add_all(self, attributes: Mapping[str, Any]) -> str:
        """Set each attribute only where absent; the condition "one of them is absent"."""
        absent = []
        for name, value in attributes.items():
            n, v = self._placeholders(name, value)
            self.parts.append(f"{n} = if_not_exists({n}, {v})")
            absent.append(f"attribute_not_exists({n})")
        return " OR ".join(absent)

    def newer_than_stored(self, attribute: str, version: str) -> str:
        n, v = self._placeholders(attribute, version)
        self.parts.append(f"{n} = {v}")
        return f"attribute_not_exists({n}) OR {n} < {v}"

    @property
    def expression(self) -> str:
        return "SET " + ", ".join(self.parts)
