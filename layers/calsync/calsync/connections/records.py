"""Connection records: what the registry and the token store hold. Plain data, no AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from calsync.calendly.models import OAuthToken

Status = Literal["active", "reauth_required"]


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


@dataclass(frozen=True, slots=True)
class PendingAuthorization:
    state: str
    connection_id: str
    code_verifier: str
    redirect_uri: str
    expires_at: int

    def __repr__(self) -> str:  # the verifier is a secret until used
        return f"PendingAuthorization(connection_id={self.connection_id!r}, expires_at={self.expires_at})"


@dataclass(frozen=True, slots=True)
class StoredToken:
    kind: Literal["oauth", "pat"]
    access_token: str
    refresh_token: str | None = None
    expires_at: int | None = None  # unix seconds; None for a PAT (does not expire)
    owner: str | None = None
    organization: str | None = None

    def __repr__(self) -> str:  # never show token material
        return f"StoredToken(kind={self.kind!r}, expires_at={self.expires_at!r}, owner={self.owner!r})"

    @classmethod
    def from_oauth(cls, issued: OAuthToken, *, organization: str | None = None) -> StoredToken:
        """What to keep of a token response (``organization`` when the response lacks it)."""
        return cls(
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


class TokenNotFound(Exception):
    """The connection has no token secret."""
