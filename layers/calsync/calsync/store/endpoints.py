"""Operator-configured endpoints (Slack, the signed forwarder) kept as JSON secrets, read
once per ``ttl_seconds`` so an operator's change is picked up within a minute."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from calsync.store import clients, secret_json

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


class EndpointSecret:
    def __init__(
        self,
        name: str,
        *,
        client: SecretsManagerClient | None = None,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: tuple[float, dict[str, Any]] | None = None

    def get(self) -> dict[str, Any]:
        if self._cached is not None and self._cached[0] > self._clock():
            return self._cached[1]
        text = secret_json.read_existing(self._client or clients.secretsmanager(), self.name, what="endpoint")
        value = secret_json.decode(text)
        self._cached = (self._clock() + self._ttl, value)
        return value
