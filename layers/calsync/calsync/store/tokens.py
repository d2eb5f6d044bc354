"""Calendly credentials in Secrets Manager, one secret per connection.

``<prefix><connection_id>`` holds JSON: an OAuth token (``kind: oauth`` with access and
refresh token and expiry) or a personal access token (``kind: pat``). The OAuth app's
client id / secret / webhook signing key live in a secret of their own. Nothing here logs
or raises with a secret in the message.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from calsync.connections.records import OAuthApp, StoredToken, TokenNotFound
from calsync.store import clients, secret_json

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def request_token_for(value: str) -> str:
    """The same secret value always gets the same version id, so a retried PutSecretValue
    is idempotent (Secrets Manager accepts a repeated ClientRequestToken with the same value)."""
    return str(uuid.UUID(hashlib.sha256(value.encode()).hexdigest()[:32]))


def token_to_json(token: StoredToken) -> str:
    """The secret's value for ``token`` (the stored format: these six fields, in this order)."""
    return secret_json.encode(
        {
            "kind": token.kind,
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
            "owner": token.owner,
            "organization": token.organization,
        }
    )


def token_from_json(text: str) -> StoredToken:
    data = secret_json.decode(text)
    return StoredToken(
        kind=data["kind"],
        access_token=data["access_token"],
        refresh_token=data.get("refresh_token"),
        expires_at=data.get("expires_at"),
        owner=data.get("owner"),
        organization=data.get("organization"),
    )


class SecretsManagerTokenStore:
    def __init__(self, prefix: str, *, client: SecretsManagerClient | None = None) -> None:
        self._prefix = prefix
        self._client = client

    @property
    def client(self) -> SecretsManagerClient:
        return self._client or clients.secretsmanager()

    def secret_name(self, connection_id: str) -> str:
        return f"{self._prefix}{connection_id}"

    def get(self, connection_id: str) -> StoredToken:
        value = secret_json.read(self.client, self.secret_name(connection_id), what="token")
        if value is None:
            raise TokenNotFound(connection_id)
        return token_from_json(value)

    def put(self, connection_id: str, token: StoredToken) -> str:
        """Store ``token`` as the current version (created on first use); idempotent."""
        value = token_to_json(token)
        name = self.secret_name(connection_id)
        secret_json.write(self.client, name, value, what="token", request_token=request_token_for(value))
        return name

    def delete(self, connection_id: str) -> None:
        secret_json.delete(self.client, self.secret_name(connection_id), what="token")


class SecretsManagerOAuthApp:
    """The OAuth app's credentials, read once per ``ttl_seconds`` (a callback needs them
    twice: for the token endpoint and for the webhook signing key)."""

    def __init__(
        self,
        secret_name: str,
        *,
        client: SecretsManagerClient | None = None,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_name = secret_name
        self._client = client
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: tuple[float, OAuthApp] | None = None

    def get(self) -> OAuthApp:
        if self._cached is not None and self._cached[0] > self._clock():
            return self._cached[1]
        client = self._client or clients.secretsmanager()
        data = secret_json.decode(secret_json.read_existing(client, self.secret_name, what="oauth app"))
        app = OAuthApp(data["client_id"], data["client_secret"], data["webhook_signing_key"])
        self._cached = (self._clock() + self._ttl, app)
        return app


class CachedToken:
    """What API-client users hold: the access token cached briefly, refetched on demand
    (pass ``refetch`` as the Calendly client's ``on_unauthorized``)."""

    def __init__(
        self,
        store: SecretsManagerTokenStore,
        connection_id: str,
        *,
        ttl_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._connection_id = connection_id
        self._ttl = ttl_seconds
        self._clock = clock
        self._cached: tuple[float, str] | None = None

    def get(self) -> str:
        if self._cached is not None and self._cached[0] > self._clock():
            return self._cached[1]
        return self.refetch()

    def refetch(self) -> str:
        token = self._store.get(self._connection_id).access_token
        self._cached = (self._clock() + self._ttl, token)
        return token
