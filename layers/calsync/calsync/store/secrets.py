"""Signing keys from Secrets Manager, cached per connection.

One secret per connection, ``<prefix><connection_id>``, holding JSON
``{"current": "...", "previous": "..." | null}``. The receiver's IAM allows reading only
that prefix. A short negative cache stops forged requests for unknown connections from
costing a Secrets Manager call each. Key material never appears in logs or errors.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from calsync.store import clients
from calsync.store.errors import aws_call, error_code

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

NEGATIVE_CACHE_SECONDS = 60.0


def encode_keys(current: str, previous: str | None = None) -> str:
    return json.dumps({"current": current, "previous": previous})


def decode_keys(secret_string: str) -> tuple[bytes, ...]:
    """The usable keys, current first; a malformed secret yields no key (fails closed)."""
    try:
        data = json.loads(secret_string)
    except ValueError:
        return ()
    if not isinstance(data, dict):
        return ()
    found = [data.get("current"), data.get("previous")]
    return tuple(k.encode() for k in found if isinstance(k, str) and k)


class SecretsManagerSigningKeys:
    def __init__(
        self,
        prefix: str,
        *,
        ttl_seconds: float = 300.0,
        client: SecretsManagerClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._prefix = prefix
        self._ttl = ttl_seconds
        self._client = client
        self._clock = clock
        self._cache: dict[str, tuple[float, tuple[bytes, ...] | None]] = {}

    def secret_name(self, connection_id: str) -> str:
        return f"{self._prefix}{connection_id}"

    def keys_for(self, connection_id: str) -> tuple[bytes, ...] | None:
        now = self._clock()
        cached = self._cache.get(connection_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        keys = self._fetch(connection_id)
        self._cache[connection_id] = (now + (self._ttl if keys else NEGATIVE_CACHE_SECONDS), keys)
        return keys

    def invalidate(self, connection_id: str) -> None:
        self._cache.pop(connection_id, None)

    def _fetch(self, connection_id: str) -> tuple[bytes, ...] | None:
        client = self._client or clients.secretsmanager()
        with aws_call("secretsmanager:GetSecretValue"):
            try:
                response = client.get_secret_value(SecretId=self.secret_name(connection_id), VersionStage="AWSCURRENT")
            except ClientError as exc:
                if error_code(exc) == "ResourceNotFoundException":
                    return None
                raise
        return decode_keys(response.get("SecretString", "")) or None

    def put(self, connection_id: str, current: str, previous: str | None = None) -> None:
        """Create or rotate a connection's signing keys (operators and the local stack)."""
        client = self._client or clients.secretsmanager()
        name = self.secret_name(connection_id)
        value = encode_keys(current, previous)
        with aws_call("secretsmanager:PutSecretValue"):
            try:
                client.put_secret_value(SecretId=name, SecretString=value)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
                client.create_secret(Name=name, SecretString=value)
        self.invalidate(connection_id)

    def delete(self, connection_id: str) -> None:
        """Remove a connection's keys at once (undoing a failed connect)."""
        client = self._client or clients.secretsmanager()
        with aws_call("secretsmanager:DeleteSecret"):
            try:
                client.delete_secret(SecretId=self.secret_name(connection_id), ForceDeleteWithoutRecovery=True)
            except ClientError as exc:
                if error_code(exc) != "ResourceNotFoundException":
                    raise
        self.invalidate(connection_id)
