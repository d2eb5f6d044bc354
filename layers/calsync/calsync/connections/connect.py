"""Connecting a Calendly organization: OAuth (authorize URL → callback) or a personal
access token. Either way the end state is the same: the token in its secret, the webhook
signing key in the receiver's secret, an organization-scoped webhook subscription pointing
at ``/webhooks/calendly/<connection_id>``, and the connection in the registry.

Connecting again (what an operator does for ``reauth_required``) must never break what a
previous connect stored: the new credentials are staged and the connection switches to them
only when every step succeeded; nothing is deleted but a subscription already replaced by a
new one (see ``Connector._finish`` and ``connections.subscriptions``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from calsync import timefmt
from calsync.calendly.errors import CalendlyError, CalendlyPermissionError
from calsync.connections import events, scopes
from calsync.connections.ports import AppSecret, Calendly, Registry, SigningKeyStore, Tokens
from calsync.connections.records import (
    CONNECTED_STATUSES,
    Connection,
    OAuthApp,
    PendingAuthorization,
    StoredToken,
)
from calsync.connections.refresh import LEASE_SECONDS
from calsync.connections.return_to import ReturnToRefused, check_return_to
from calsync.connections.subscriptions import ensure as ensure_subscription
from calsync.errors import DependencyUnavailable

AUTHORIZE_URL = "https://auth.calendly.com/oauth/authorize"
STATE_TTL_SECONDS = 600
CONNECTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class ConnectError(Exception):
    """A connect attempt failed; ``reason`` is a stable code, the message is safe to show."""

    def __init__(self, status: int, reason: str, message: str, *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.parameter = parameter  # the bad input's name, for a 400


def check_connection_id(connection_id: str) -> str:
    if not CONNECTION_ID.fullmatch(connection_id):  # match() let "acme\n" through (`$`)
        raise ConnectError(
            400,
            "invalid_connection_id",
            "connection id: letters, digits, - and _, at most 64",
            parameter="connection_id",
        )
    return connection_id


PKCE_CONTEXT = b"calsync pkce verifier v1\n"


def pkce_verifier(client_secret: str, state: str) -> str:
    """The PKCE code verifier of the authorization started with ``state``: HMAC-SHA256 of the
    state under the OAuth app's client secret, base64url (43 characters of RFC 7636's
    alphabet, 256 bits). Derived, never stored: the state is public (it is in the link), the
    client secret is not, so only calsync can compute the verifier, and no database item or
    backup holds it."""
    digest = hmac.new(client_secret.encode(), PKCE_CONTEXT + state.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """S256: base64url(SHA-256(verifier)), unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def complete_app(app: AppSecret) -> OAuthApp:
    """The OAuth app's credentials, refusing (naming what is missing) while any is empty, as
    the stack creates the secret: without the app's signing key every webhook would be 401."""
    found = app.get()
    missing = found.missing()
    if missing:
        raise ConnectError(
            503,
            "oauth_app_incomplete",
            f"The OAuth app secret {app.secret_name} has no {', '.join(missing)} yet: store the app's client_id, "
            "client_secret and webhook_signing_key there first (docs/connect.md).",
        )
    return found


def webhook_url(api_base: str, connection_id: str) -> str:
    return f"{api_base.rstrip('/')}/webhooks/calendly/{connection_id}"


@dataclass(frozen=True, slots=True)
class StartedAuthorization:
    """The link a customer opens to connect, and until when (unix seconds) it works."""

    authorize_url: str
    expires_at: int


def begin_oauth(
    registry: Registry,
    app: AppSecret,
    *,
    connection_id: str,
    redirect_uri: str,
    now: float,
    authorize_url: str = AUTHORIZE_URL,
    return_to: str | None = None,
    return_origins: Collection[str] | None = None,
    status_of: Callable[[str], str | None] | None = None,
) -> StartedAuthorization:
    """Start connecting: record a pending authorization (random state, 10 min; no secret;
    ``return_to`` if given) and return the URL that grants calsync access (PKCE S256, verifier
    derived from the state). ``calsync connect oauth`` and ``POST /v1/connections`` both call it.

    ``return_to`` must be an absolute https URL whose origin is in ``return_origins`` (``None``:
    any origin, for the operator's CLI). With ``status_of`` (the API), a connection already
    connected (``records.CONNECTED_STATUSES``) is a 409; any other status may connect again."""
    check_connection_id(connection_id)
    if return_to is not None:
        try:
            check_return_to(return_to, return_origins)
        except ReturnToRefused as exc:
            raise ConnectError(400, "invalid_return_to", f"return_to {exc}", parameter="return_to") from None
    if status_of is not None and status_of(connection_id) in CONNECTED_STATUSES:
        raise ConnectError(
            409,
            "already_connected",
            f"Connection '{connection_id}' is already connected; disconnect it first to connect it again.",
        )
    credentials = complete_app(app)
    state = secrets.token_urlsafe(32)
    expires_at = int(now) + STATE_TTL_SECONDS
    registry.put_pending(PendingAuthorization(state, connection_id, redirect_uri, expires_at, return_to))
    query = {
        "client_id": credentials.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": pkce_challenge(pkce_verifier(credentials.client_secret, state)),
        "code_challenge_method": "S256",
    }
    return StartedAuthorization(f"{authorize_url}?{urlencode(query)}", expires_at)


def start_oauth(
    registry: Registry,
    app: AppSecret,
    *,
    connection_id: str,
    redirect_uri: str,
    now: float,
    authorize_url: str = AUTHORIZE_URL,
) -> str:
    """``begin_oauth``'s link alone (no return_to, no status check)."""
    return begin_oauth(
        registry, app, connection_id=connection_id, redirect_uri=redirect_uri, now=now, authorize_url=authorize_url
    ).authorize_url


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
        granted: str | None = None,
    ) -> Connection:
        """Stage, then switch; a failure leaves an existing connection as it was.

        Under the connection's refresh lease (no refresher may write its token meanwhile):
        1. the new signing key is added beside the current one (the receiver accepts both, so
           the old subscription keeps delivering);
        2. the subscription (a replacement is created before the old one is deleted); if it
           fails, the signing keys are put back as they were;
        3. the token, with a new generation (the old one stays a version of the secret);
        4. the registry: from now on the connection is the new one.
        Nothing else is deleted. After step 2 Calendly signs with the new key, so the keys stay
        staged whatever fails later; a failure at 3 leaves the old token and registry (still
        working: the receiver accepts the new key); a failure at 4 leaves new credentials the
        registry does not describe yet (working too for a re-connect; a first connect's
        deliveries get 401 until it is registered: the receiver reads keys for registered
        connections only) — either way connecting again finishes it.
        """
        url = webhook_url(api_base, connection_id)
        wanted, missing_scopes = events.for_scopes(granted)  # ``granted`` None: unknown (a PAT)
        existing = self.registry.get(connection_id)
        lease_owner = f"connect-{secrets.token_hex(8)}"
        if existing is not None and not self.registry.acquire_lease(
            connection_id, owner=lease_owner, now=int(self.clock()), seconds=LEASE_SECONDS
        ):
            raise ConnectError(
                409,
                "refresh_in_progress",
                f"A token refresh of '{connection_id}' is running; connect again in a few minutes.",
            )
        try:
            organization = token.organization or str(calendly.get_current_user().current_organization)
            keys_before = self.signing_keys.stored(connection_id)
            self._stage_key(connection_id, signing_key, keys_before)
            try:
                subscribed = ensure_subscription(
                    calendly,
                    base_url=url,
                    organization=organization,
                    signing_key=signing_key if send_signing_key else None,
                    events=wanted,
                )
            except BaseException:
                self._restore_keys(connection_id, keys_before, signing_key)
                raise
            generation = secrets.token_hex(8)
            token_secret = self.tokens.put(connection_id, replace(token, generation=generation))
            connection = Connection(
                connection_id=connection_id,
                kind=token.kind,
                status="active",
                organization=organization,
                owner=token.owner,
                callback_url=url,
                token_secret=token_secret,
                signing_key_secret=self.signing_keys.secret_name(connection_id),
                subscription_uri=str(subscribed.subscription.uri),
                token_expires_at=token.expires_at,
                created_at=timefmt.iso_z(timefmt.from_epoch(self.clock())),
                token_generation=generation,
                subscription_events=events.record(
                    subscribed.events,
                    list(subscribed.refused),
                    missing_scopes,
                    timefmt.iso_z(timefmt.from_epoch(self.clock())),
                ),
            )
            self.registry.register(connection, now=timefmt.iso_z(timefmt.from_epoch(self.clock())))
            return connection
        except CalendlyPermissionError:
            raise ConnectError(
                403,
                "forbidden",
                "Calendly refused to create the webhook subscription (403), even for the invitee events "
                f"alone: the token may lack {scopes.SUBSCRIBING}, or the plan may not allow webhooks.",
            ) from None
        except CalendlyError as exc:
            raise ConnectError(502, "calendly_error", f"Calendly refused: {exc.title}") from None
        finally:
            if existing is not None:
                # register() replaced the item (and the lease with it); else give it back
                self._quietly(lambda: self.registry.release_lease(connection_id, owner=lease_owner))

    def _stage_key(self, connection_id: str, key: str, before: tuple[str | None, str | None] | None) -> None:
        """``key`` current, the current one kept as previous (nothing to do if it is current)."""
        current = before[0] if before is not None else None
        if current != key:
            self.signing_keys.put(connection_id, key, current)

    def _restore_keys(self, connection_id: str, before: tuple[str | None, str | None] | None, key: str) -> None:
        """Put the signing keys back as they were (none usable, if there was no secret)."""
        if before is not None and before[0] == key:
            return  # nothing was written
        self._quietly(lambda: self.signing_keys.put(connection_id, *(before or (None, None))))

    @staticmethod
    def _quietly(step: Callable[[], None]) -> None:
        try:
            step()
        except DependencyUnavailable:  # best effort: the original error is what matters
            return

    def complete_oauth(
        self,
        *,
        state: str,
        code: str,
        token_endpoint: Any,
        app: AppSecret,
        calendly_for: Callable[[str], Calendly],
        api_base: str,
        taken: Callable[[PendingAuthorization], None] | None = None,
    ) -> Connection:
        """The callback: single-use, unexpired state → code exchange → connected. ``taken`` is
        told which pending authorization the state was (its ``return_to``), before anything
        that may fail after it."""
        if not state or not code:
            raise ConnectError(400, "missing_parameters", "The callback needs both code and state.")
        credentials = complete_app(app)
        pending = self.registry.take_pending(state, now=int(self.clock()))
        if pending is None:
            raise ConnectError(400, "invalid_state", "This authorization link is unknown, expired or already used.")
        if taken is not None:
            taken(pending)
        verifier = pkce_verifier(credentials.client_secret, pending.state)
        try:
            issued = token_endpoint.exchange_code(code, pending.redirect_uri, verifier)
        except CalendlyError as exc:
            raise ConnectError(502, "calendly_error", f"Calendly refused the authorization: {exc.title}") from None
        lacking = scopes.missing(issued.scope)
        if lacking:
            how = "Add them to the OAuth app in Calendly's developer portal, then connect again."
            raise ConnectError(403, "missing_scopes", scopes.refusal(lacking, how=how))
        token = StoredToken.from_oauth(issued)
        return self._finish(
            connection_id=pending.connection_id,
            token=token,
            signing_key=credentials.webhook_signing_key,  # OAuth apps sign with the app's key
            calendly=calendly_for(token.access_token),
            api_base=api_base,
            send_signing_key=False,
            granted=issued.scope,
        )

    def abandon_oauth(self, state: str) -> PendingAuthorization | None:
        """Calendly came back without a code (consent denied): the state is used up, and its
        pending authorization (if it was one) says where the customer returns."""
        return self.registry.take_pending(state, now=int(self.clock())) if state else None

    def connect_pat(
        self, *, connection_id: str, personal_access_token: str, calendly_for: Callable[[str], Calendly], api_base: str
    ) -> Connection:
        """A personal access token: calsync generates the signing key and subscribes with it."""
        check_connection_id(connection_id)
        calendly = calendly_for(personal_access_token)
        try:
            me = calendly.get_current_user()
        except CalendlyPermissionError:
            lacking = ["users:read"]
        except CalendlyError as exc:
            raise ConnectError(400, "calendly_error", f"Calendly refused the token: {exc.title}") from None
        else:
            try:
                lacking = scopes.probe_personal_token(
                    calendly, str(me.current_organization), datetime.fromtimestamp(self.clock(), UTC)
                )
            except CalendlyError as exc:
                raise ConnectError(502, "calendly_error", f"Calendly refused: {exc.title}") from None
        if lacking:
            how = "Make a personal access token with them in Calendly (Integrations → API & Webhooks) and connect it."
            raise ConnectError(403, "missing_scopes", scopes.refusal(lacking, how=how))
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
