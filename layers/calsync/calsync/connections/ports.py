"""What the connection logic needs from storage and from Calendly (implemented in
``aws_registry``, ``aws_tokens``, ``calsync.intake.aws_signing_keys``, ``calsync.reconcile.aws_requests`` and ``calsync.calendly``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, Protocol

from calsync.calendly.bodies import OAuthToken
from calsync.calendly.models import ScheduledEvent, User, WebhookSubscription
from calsync.connections.records import Connection, OAuthApp, PendingAuthorization, StoredToken


class Registry(Protocol):
    """Status changes take the ``generation`` (``Connection.token_generation``) they were
    based on and apply only while the connection still has it: they return False otherwise
    (the connection was re-connected meanwhile, or removed)."""

    def register(self, connection: Connection, *, now: str) -> None: ...
    def get(self, connection_id: str) -> Connection | None: ...
    def all(self) -> Iterator[Connection]: ...
    def mark_reauth_required(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool: ...
    def token_refreshed(self, connection_id: str, *, expires_at: int, now: str, generation: str | None) -> bool: ...
    def record_error(
        self, connection_id: str, *, job: str, reason: str, detail: str, now: str, generation: str | None
    ) -> bool: ...
    def refresh_unconfirmed(self, connection_id: str, *, reason: str, now: str, generation: str | None) -> bool: ...
    def subscription_replaced(
        self,
        connection_id: str,
        *,
        subscription_uri: str,
        record: Mapping[str, Any],
        now: str,
        generation: str | None,
    ) -> bool: ...
    def subscription_healthy(self, connection_id: str, *, now: str, generation: str | None) -> bool:
        """The watchdog saw the subscription delivering at ``now`` (a later gap starts there)."""
        ...

    def subscription_events(
        self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: str | None
    ) -> bool:
        """The subscription's events, those Calendly refused and the scopes the token lacks."""
        ...

    def gap_reconcile(self, connection_id: str, *, record: Mapping[str, Any], now: str, generation: str | None) -> bool:
        """What the watchdog last asked to reconcile (``connections.gaps``)."""
        ...

    def mark_removed(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        """``removed`` with the disconnect's ``pending`` steps, while ``owner`` holds the lease."""
        ...

    def removal_progress(self, connection_id: str, *, owner: str, pending: list[str], now: str) -> bool:
        """The disconnect's steps still to do, while ``owner`` holds the lease (False: it does not)."""
        ...

    def acquire_lease(self, connection_id: str, *, owner: str, now: int, seconds: int) -> bool: ...
    def release_lease(self, connection_id: str, *, owner: str) -> None: ...
    def put_pending(self, pending: PendingAuthorization) -> None: ...
    def take_pending(self, state: str, *, now: int) -> PendingAuthorization | None: ...


class ReconcileRequests(Protocol):
    """Where the watchdog asks for a reconcile of a connection's gap (the reconcile-requests queue;
    the message is ``calsync.reconcile.requests.ReconcileRequest``). Raises
    ``DependencyUnavailable`` when the request was not accepted."""

    def request(self, connection_id: str, *, since: datetime, reason: str, requested_at: datetime) -> None: ...


class Tokens(Protocol):
    def get(self, connection_id: str) -> StoredToken: ...
    def put(self, connection_id: str, token: StoredToken) -> str: ...
    def secret_name(self, connection_id: str) -> str: ...


class SecretRemover(Protocol):
    """Deletes a secret at once (no recovery window: connecting again re-creates the same name);
    one already gone is fine. Raises ``DependencyUnavailable`` when Secrets Manager fails."""

    def delete(self, name: str) -> None: ...


class TokenRevoker(Protocol):
    """Calendly's ``POST /oauth/revoke`` (the OAuth app's credentials). Raises ``OAuthError``
    (400: the token is already invalid), ``CalendlyError`` otherwise."""

    def revoke(self, token: str) -> None: ...


class TenantData(Protocol):
    """A connection's stored data (its events with their invitees and submissions, its
    reconcile reports). ``erase`` deletes it a page at a time while ``time_left()`` allows:
    True once nothing is left, False when the time ran out first (call again). Raises
    ``DependencyUnavailable`` when the store fails (what was deleted stays deleted)."""

    def erase(self, connection_id: str, *, time_left: Callable[[], float]) -> bool: ...


class SigningKeyStore(Protocol):
    def put(self, connection_id: str, current: str | None, previous: str | None = None) -> None: ...
    def stored(self, connection_id: str) -> tuple[str | None, str | None] | None: ...
    def secret_name(self, connection_id: str) -> str: ...


class AppSecret(Protocol):
    secret_name: str

    def get(self) -> OAuthApp: ...


class TokenEndpoint(Protocol):
    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuthToken: ...
    def refresh(self, refresh_token: str) -> OAuthToken: ...


class Calendly(Protocol):
    def get_current_user(self) -> User: ...
    def list_scheduled_events(
        self, *, organization: str | None = None, min_start_time: datetime | str | None = None
    ) -> Iterator[ScheduledEvent]: ...
    def list_webhook_subscriptions(
        self, organization: str, scope: str, user: str | None = None
    ) -> Iterator[WebhookSubscription]: ...
    def create_webhook_subscription(
        self,
        url: str,
        events: Iterable[str],
        organization: str,
        scope: str,
        user: str | None = None,
        signing_key: str | None = None,
    ) -> WebhookSubscription: ...
    def delete_webhook_subscription(self, uuid_or_uri: str) -> None: ...
    def close(self) -> None: ...
