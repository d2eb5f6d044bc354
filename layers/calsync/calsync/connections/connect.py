"""Connecting a Calendly organization: OAuth (authorize URL → callback) or a personal
access token. Either way the end state is the same: the token in its secret, the webhook
signing key in the receiver's secret, an organization-scoped webhook subscription pointing
at ``/webhooks/calendly/<connection_id>``, and the connection in the registry. A failure
on the way removes what was stored, so nothing is left half-connected.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from calsync.calendly.errors import CalendlyConflict, CalendlyError
from calsync.calendly.models import WebhookEvent, WebhookSubscription
from calsync.connections.ports import AppSecret, Calendly, Registry, SigningKeyStore, Tokens
from calsync.connections.records import Connection, PendingAuthorization, StoredToken

AUTHORIZE_URL = "https://auth.calendly.com/oauth/authorize"
STATE_TTL_SECONDS = 600
WEBHOOK_EVENTS = tuple(WebhookEvent)  # every event calsync models
CONNECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ConnectError(Exception):
    """A connect attempt failed; ``reason`` is a stable code, the message is safe to show."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


def check_connection_id(connection_id: str) -> str:
    if not CONNECTION_ID.match(connection_id):
        raise ConnectError(400, "invalid_connection_id", "connection id: letters, digits, - and _, at most 64")
    return connection_id


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def webhook_url(api_base: str, connection_id: str) -> str:
    return f"{api_base.rstrip('/')}/webhooks/calendly/{connection_id}"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def start_oauth(
    registry: Registry,
    app: AppSecret,
    *,
    connection_id: str,
    redirect_uri: str,
    now: float,
    authorize_url: str = AUTHORIZE_URL,
) -> str:
    """Record a pending authorization (random state, PKCE verifier, 10 min) and return the
    URL the operator opens to grant calsync access."""
    check_connection_id(connection_id)
    state = secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    registry.put_pending(
        PendingAuthorization(state, connection_id, verifier, redirect_uri, int(now) + STATE_TTL_SECONDS)
    )
    query = {
        "client_id": app.get().client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{authorize_url}?{urlencode(query)}"


def ensure_subscription(
    calendly: Calendly, *, url: str, organization: str, signing_key: str | None
) -> WebhookSubscription:
    """Create the organization-scoped subscription for ``url``; if Calendly says one exists
    (409), use it when it is enabled, or replace it when it is disabled."""
    try:
        return calendly.create_webhook_subscription(
            url, WEBHOOK_EVENTS, organization, "organization", signing_key=signing_key
        )
    except CalendlyConflict:
        existing = next(
            (s for s in calendly.list_webhook_subscriptions(organization, "organization") if s.callback_url == url),
            None,
        )
        if existing is None:
            raise
        if existing.state != "disabled" and signing_key is None:
            return existing
        # A disabled one must be re-created; one with an unknown signing key too (PAT path).
        calendly.delete_webhook_subscription(str(existing.uri))
        return calendly.create_webhook_subscription(
            url, WEBHOOK_EVENTS, organization, "organization", signing_key=signing_key
        )


@dataclass
class Connector:
    registry: Registry
    tokens: Tokens
    signing_keys: SigningKeyStore
    clock: Callable[[], float] = time.time

    def _finish(
        self,
        *,
        connection_id: str,
        token: StoredToken,
        signing_key: str,
        calendly: Calendly,
        api_base: str,
        send_signing_key: bool,
    ) -> Connection:
        """Store token and key, subscribe, register; undo the stores if a later step fails."""
        url = webhook_url(api_base, connection_id)
        stored: list[Callable[[], None]] = []
        try:
            token_secret = self.tokens.put(connection_id, token)
            stored.append(lambda: self.tokens.delete(connection_id))
            self.signing_keys.put(connection_id, signing_key)
            stored.append(lambda: self.signing_keys.delete(connection_id))
            organization = token.organization or str(calendly.get_current_user().current_organization)
            subscription = ensure_subscription(
                calendly, url=url, organization=organization, signing_key=signing_key if send_signing_key else None
            )
            connection = Connection(
                connection_id=connection_id,
                kind=token.kind,
                status="active",
                organization=organization,
                owner=token.owner,
                callback_url=url,
                token_secret=token_secret,
                signing_key_secret=self.signing_keys.secret_name(connection_id),
                subscription_uri=str(subscription.uri),
                token_expires_at=token.expires_at,
                created_at=_iso(self.clock()),
            )
            self.registry.register(connection, now=_iso(self.clock()))
            return connection
        except CalendlyError as exc:
            self._undo(stored)
            raise ConnectError(502, "calendly_error", f"Calendly refused: {exc.title}") from None
        except Exception:
            self._undo(stored)
            raise

    @staticmethod
    def _undo(stored: list[Callable[[], None]]) -> None:
        for undo in reversed(stored):
            try:
                undo()
            except Exception:  # noqa: S112 - best effort; the original error is what matters
                continue

    def complete_oauth(
        self,
        *,
        state: str,
        code: str,
        token_endpoint: Any,
        app: AppSecret,
        calendly_for: Callable[[str], Calendly],
        api_base: str,
    ) -> Connection:
        """The callback: single-use, unexpired state → code exchange → connected."""
        if not state or not code:
            raise ConnectError(400, "missing_parameters", "The callback needs both code and state.")
        pending = self.registry.take_pending(state, now=int(self.clock()))
        if pending is None:
            raise ConnectError(400, "invalid_state", "This authorization link is unknown, expired or already used.")
        try:
            issued = token_endpoint.exchange_code(code, pending.redirect_uri, pending.code_verifier)
        except CalendlyError as exc:
            raise ConnectError(502, "calendly_error", f"Calendly refused the authorization: {exc.title}") from None
        token = StoredToken.from_oauth(issued)
        return self._finish(
            connection_id=pending.connection_id,
            token=token,
            signing_key=app.get().webhook_signing_key,  # OAuth apps sign with the app's key
            calendly=calendly_for(token.access_token),
            api_base=api_base,
            send_signing_key=False,
        )

    def connect_pat(
        self, *, connection_id: str, personal_access_token: str, calendly_for: Callable[[str], Calendly], api_base: str
    ) -> Connection:
        """A personal access token: calsync generates the signing key and subscribes with it."""
        check_connection_id(connection_id)
        calendly = calendly_for(personal_access_token)
        try:
            me = calendly.get_current_user()
        except CalendlyError as exc:
            raise ConnectError(400, "calendly_error", f"Calendly refused the token: {exc.title}") from None
        token = StoredToken(
            kind="pat",
            access_token=personal_access_token,
            owner=str(me.uri),
            organization=str(me.current_organization),
        )
        return self._finish(
            connection_id=connection_id,
            token=token,
            signing_key=secrets.token_urlsafe(32),
            calendly=calendly,
            api_base=api_base,
            send_signing_key=True,
        )
