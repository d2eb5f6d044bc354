"""Build the connection services from settings: the one place that joins the store
(boto3) and the Calendly client (httpx) for the refresher, watchdog and callback."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from calsync.calendly.client import CalendlyClient, OAuthClient
from calsync.calendly.models import OAuthToken
from calsync.config import ConnectionSettings, connection_settings
from calsync.connections.connect import Connector
from calsync.connections.ports import Calendly
from calsync.connections.records import Connection
from calsync.store.connections import DynamoConnectionRegistry
from calsync.store.secrets import SecretsManagerSigningKeys
from calsync.store.tokens import CachedToken, SecretsManagerOAuthApp, SecretsManagerTokenStore


@cache
def settings() -> ConnectionSettings:
    return connection_settings()


@cache
def registry() -> DynamoConnectionRegistry:
    return DynamoConnectionRegistry(settings().bookings_table_name)


@cache
def tokens() -> SecretsManagerTokenStore:
    return SecretsManagerTokenStore(settings().token_secret_prefix)


@cache
def signing_keys() -> SecretsManagerSigningKeys:
    return SecretsManagerSigningKeys(settings().signing_key_prefix, ttl_seconds=1)


@cache
def oauth_app() -> SecretsManagerOAuthApp:
    return SecretsManagerOAuthApp(settings().oauth_app_secret_name)


class LazyOAuth:
    """The token endpoint, built (reading the OAuth app secret) only when first needed:
    most refresher runs refresh nothing."""

    def __init__(self) -> None:
        self._client: OAuthClient | None = None

    def _get(self) -> OAuthClient:
        if self._client is None:
            self._client = oauth_client()
        return self._client

    def refresh(self, refresh_token: str) -> OAuthToken:
        return self._get().refresh(refresh_token)

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuthToken:
        return self._get().exchange_code(code, redirect_uri, code_verifier)

    def __enter__(self) -> LazyOAuth:
        return self

    def __exit__(self, *_: object) -> None:
        if self._client is not None:
            self._client.close()


def oauth_client() -> OAuthClient:
    app = oauth_app().get()
    return OAuthClient(app.client_id, app.client_secret, token_url=settings().calendly_token_url)


def calendly_with_token(token: str) -> Calendly:
    return CalendlyClient(lambda: token, base_url=settings().calendly_api_url)


def calendly_for_connection(connection: Connection) -> Calendly:
    """Reads the connection's token from its secret (cached briefly, refetched on a 401)."""
    cached = CachedToken(tokens(), connection.connection_id)
    return CalendlyClient(cached.get, on_unauthorized=cached.refetch, base_url=settings().calendly_api_url)


def signing_key_for(connection: Connection) -> str | None:
    """PAT subscriptions are created with calsync's own key; OAuth ones use the app's."""
    if connection.kind != "pat":
        return None
    keys = signing_keys().keys_for(connection.connection_id)
    return keys[0].decode() if keys else None


def connector(clock: Callable[[], float] | None = None) -> Connector:
    if clock is None:
        return Connector(registry(), tokens(), signing_keys())
    return Connector(registry(), tokens(), signing_keys(), clock=clock)


def reset() -> None:
    """Forget built services (tests and the local stack switch environments)."""
    for factory in (settings, registry, tokens, signing_keys, oauth_app):
        factory.cache_clear()
    connection_settings.cache_clear()
