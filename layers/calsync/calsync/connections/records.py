"""Connection records: what the registry and the token store hold. Plain data, no AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from calsync.calendly.bodies import OAuthToken

Status = Literal["active", "reauth_required", "removed"]  # removed: disconnected (connections.disconnect)
# A connection in one of these is connected: ``POST /v1/connections`` answers 409 for it. Any
# other (``reauth_required``, a disconnected ``removed`` one) may be connected again.
CONNECTED_STATUSES = frozenset({"active", "connected"})


@dataclass(frozen=True, slots=True)
class Connection:
    connection_id: str
    kind: Literal["oauth", "pat"]
    status: Status
    organization: str
    owner: str | None
    callback_url: str
    token_secret: str
    signing_key_secret: str
    subscription_uri: str | None = None
    status_reason: str | None = None
    token_expires_at: int | None = None
    created_at: str | None = None
    subscription_recreated: list[dict[str, Any]] = field(default_factory=list)
    # Which connect the stored token descends from: a re-connect makes a new one, a refresh
    # keeps it. Every status change is conditioned on it (a refresher working on an old
    # token cannot mark a fresh connection).
    token_generation: str | None = None
    # The last failure of a scheduled job on this connection: {"reason", "at", "detail"}.
    last_refresh_error: dict[str, Any] | None = None
    last_check_error: dict[str, Any] | None = None
    # Set when a refresh request was sent and its answer lost: the refresh token may be spent.
    refresh_unconfirmed: dict[str, Any] | None = None
    # The last time the watchdog saw the subscription delivering (ISO 8601, UTC).
    subscription_healthy_at: str | None = None
    # The last gap reconcile the watchdog asked for: {"since", "reason", "noticed_at", "requested_at"}
    # (requested_at None: not sent yet, the next run sends it).
    gap_reconcile: dict[str, Any] | None = None
    # A disconnect (``status`` removed): when it began, and its steps not finished yet (a re-run
    # of the disconnect does them; empty: nothing left). A re-connect replaces the whole record.
    removed_at: str | None = None
    removal_pending: list[str] | None = None
    # The subscription's events (``connections.events.record``): {"events", "refused_events"
    # (Calendly refused them: 403), "missing_scopes" (the token lacks them), "at"}.
    subscription_events: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    """A started OAuth authorization. Holds no secret: the PKCE verifier is derived from the
    state when the callback comes (``connections.connect.pkce_verifier``)."""

    state: str
    connection_id: str
    redirect_uri: str
    expires_at: int
    # Where the callback sends the customer back (``connections.return_to``); checked when the
    # connection started, so the callback trusts only this stored value, never its query.
    return_to: str | None = None


@dataclass(frozen=True, slots=True)
class StoredToken:
    kind: Literal["oauth", "pat"]
    access_token: str
    refresh_token: str | None = None
    expires_at: int | None = None  # unix seconds; None for a PAT (does not expire)
    owner: str | None = None
    organization: str | None = None
    generation: str | None = None  # see Connection.token_generation

    def __repr__(self) -> str:  # never show token material
        return f"StoredToken(kind={self.kind!r}, expires_at={self.expires_at!r}, owner={self.owner!r})"

    @classmethod
    def from_oauth(
        cls, issued: OAuthToken, *, organization: str | None = None, generation: str | None = None
    ) -> StoredToken:
        """What to keep of a token response (``organization`` when the response lacks it)."""
        return cls(
            generation=generation,
            kind="oauth",
            access_token=issued.access_token.get_secret_value(),
            refresh_token=issued.refresh_token.get_secret_value(),
            expires_at=issued.expires_at,
            owner=str(issued.owner),
            organization=str(issued.organization) if issued.organization else organization,
        )


@dataclass(frozen=True, slots=True)
class OAuthApp:
    client_id: str
    client_secret: str
    webhook_signing_key: str

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r})"

    def missing(self) -> list[str]:
        """The fields still empty (as the stack creates the secret): connecting needs all three."""
        return [name for name in ("client_id", "client_secret", "webhook_signing_key") if not getattr(self, name)]


class TokenNotFound(Exception):
    """The connection has no token secret."""


class TokenUnreadable(Exception):
    """The connection's token secret does not hold a token calsync can read (the message
    names what is wrong, never the value)."""
