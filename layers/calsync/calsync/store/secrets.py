"""Signing keys from Secrets Manager, cached per connection.

One secret per connection, ``<prefix><connection_id>``, holding JSON
``{"current": "...", "previous": "..." | null}``. The receiver's IAM allows reading only
that prefix. A short negative cache stops forged requests for unknown connections from
costing a Secrets Manager call each. Key material never appears in logs or errors.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from calsync.store import clients, secret_json

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

NEGATIVE_CACHE_SECONDS = 60.0


def encode_keys(current: str | None, previous: str | None = None) -> str:
    return secret_json.encode({"current": current, "previous": previous})


def decode_keys(secret_string: str) -> tuple[bytes, ...]:
    """The usable keys, current first; a malformed secret yields no key (fails closed)."""
    try:
        data = secret_json.decode(secret_string)
    except ValueError:
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
        value = secret_json.read(client, self.secret_name(connection_id))
        return (decode_keys(value) or None) if value is not None else None

    def put(self, connection_id: str, current: str | None, previous: str | None = None) -> None:
        """Create or rotate a connection's signing keys (``current`` None and ``previous``
        None: no usable key, the receiver refuses everything for this connection)."""
        client = self._client or clients.secretsmanager()
        secret_json.write(client, self.secret_name(connection_id), encode_keys(current, previous))
        self.invalidate(connection_id)

    def stored(self, connection_id: str) -> tuple[str | None, str | None] | None:
        """``(current, previous)`` as stored now (uncached), or ``None`` if there is no secret."""
        client = self._client or clients.secretsmanager()
        value = secret_json.read(client, self.secret_name(connection_id))
        if value is None:
            return None
        try:
            data = secret_json.decode(value)
        except ValueError:
            return (None, None)

        def key(name: str) -> str | None:
            found = data.get(name)
            return found if isinstance(found, str) and found else None

        return key("current"), key("previous")
