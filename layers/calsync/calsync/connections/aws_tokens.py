"""Calendly credentials in Secrets Manager, one secret per connection.

``<prefix><connection_id>`` holds JSON: an OAuth token (``kind: oauth`` with access and
refresh token and expiry) or a personal access token (``kind: pat``). The OAuth app's
client id / secret / webhook signing key live in a secret of their own. Nothing here logs
or raises with a secret in the message.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from calsync.aws import clients, secret_json
from calsync.connections.records import OAuthApp, StoredToken, TokenNotFound, TokenUnreadable

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient


def new_request_token() -> str:
    """A version id of its own for each write. Secrets Manager answers a repeated
    ClientRequestToken with the version it already has *without making it current*, so a
    token derived from the value would leave an earlier token current when a value is stored
    again. botocore's own retries of one call re-send the same id (idempotent per call)."""
    return str(uuid.uuid4())


def token_to_json(token: StoredToken) -> str:
    """The secret's value for ``token`` (the stored format: these fields, in this order)."""
    return secret_json.encode(
        {
            "kind": token.kind,
            "access_token": token.access_token,
            "refresh_token": token.refresh_token,
            "expires_at": token.expires_at,
            "owner": token.owner,
            "organization": token.organization,
            "generation": token.generation,
        }
    )


def token_from_json(text: str) -> StoredToken:
    """The stored token; ``TokenUnreadable`` (naming the problem, never the value) otherwise."""
    try:
        data = secret_json.decode(text)
    except ValueError:
        raise TokenUnreadable("the token secret is not a JSON object") from None
    kind, access, expires = data.get("kind"), data.get("access_token"), data.get("expires_at")
    if kind not in ("oauth", "pat") or not isinstance(access, str) or not access:
        raise TokenUnreadable("the token secret lacks a valid kind or access_token")
    if expires is not None and not isinstance(expires, int):
        raise TokenUnreadable("the token secret's expires_at is not a number")
    refresh = data.get("refresh_token")
    if kind == "oauth" and (not isinstance(refresh, str) or not refresh):
        raise TokenUnreadable("the OAuth token secret lacks a refresh_token")
    return StoredToken(
        kind=kind,
        access_token=access,
        refresh_token=refresh,
        expires_at=expires,
        owner=data.get("owner"),
        organization=data.get("organization"),
        generation=data.get("generation"),
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
        """Store ``token`` as the current version (created on first use). Each call is a new
        version that becomes current; writing the same value again is harmless."""
        name = self.secret_name(connection_id)
        secret_json.write(self.client, name, token_to_json(token), what="token", request_token=new_request_token())
        return name


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
        self._secret = secret_json.CachedJsonSecret(
            secret_name, client=client, ttl_seconds=ttl_seconds, clock=clock, what="oauth app"
        )

    def invalidate(self) -> None:
        self._secret.invalidate()

    def get(self) -> OAuthApp:
        data = self._secret.get()  # not JSON: every field is missing (OAuthApp.missing names them)

        def text(name: str) -> str:
            value = data.get(name)
            return value if isinstance(value, str) else ""

        return OAuthApp(text("client_id"), text("client_secret"), text("webhook_signing_key"))


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


class SecretsManagerSecrets:
    """Deletes a connection's secrets (``SecretRemover``): at once, without a recovery window, so
    connecting the same id again can create them anew; one already gone is fine."""

    def __init__(self, *, client: SecretsManagerClient | None = None) -> None:
        self._client = client

    def delete(self, name: str) -> None:
        secret_json.delete(self._client or clients.secretsmanager(), name, what="connection")
