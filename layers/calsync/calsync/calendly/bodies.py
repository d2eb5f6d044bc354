"""Pydantic models of the bodies Calendly takes or answers that are not API resources: the
webhook subscription request, the OAuth token response and the error bodies (of the API and of
the OAuth endpoints). Like the resources in
``calsync.calendly.models``: unknown fields ignored, frozen, tokens ``SecretStr``; no I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr

from calsync.calendly.models import CalendlyModel, Uri

# --- webhook subscriptions -------------------------------------------------------------------


class WebhookSubscriptionCreate(CalendlyModel):
    """Body of ``POST /webhook_subscriptions`` (``signing_key`` is chosen by the caller)."""

    url: str
    events: list[str] = Field(min_length=1)
    organization: Uri
    scope: str
    user: Uri | None = None
    group: Uri | None = None
    signing_key: SecretStr | None = None

    def to_json(self) -> dict[str, Any]:
        """The request body, with the signing key revealed (for the wire only)."""
        body: dict[str, Any] = self.model_dump(exclude_none=True, exclude={"signing_key"})
        if self.signing_key is not None:
            body["signing_key"] = self.signing_key.get_secret_value()
        return body


# --- OAuth ------------------------------------------------------------------------------------


class OAuthToken(CalendlyModel):
    """Response of ``POST https://auth.calendly.com/oauth/token``.

    ``created_at`` is unix seconds. ``organization`` is documented as always present, but
    older responses lack it.
    """

    token_type: str
    access_token: SecretStr
    refresh_token: SecretStr
    created_at: int
    expires_in: int
    owner: Uri
    scope: str | None = None
    organization: Uri | None = None

    @property
    def expires_at(self) -> int:
        """Unix seconds at which ``access_token`` stops working."""
        return self.created_at + self.expires_in


# --- errors -----------------------------------------------------------------------------------


class ErrorDetail(CalendlyModel):
    parameter: str | None = None
    message: str | None = None
    code: str | None = None


class CalendlyErrorBody(CalendlyModel):
    """Error body of the API: ``{title, message, details?}``."""

    title: str
    message: str
    details: list[ErrorDetail] = Field(default_factory=list)


class OAuthErrorBody(CalendlyModel):
    """Error body of the OAuth endpoints: ``{error, error_description}``."""

    error: str
    error_description: str | None = None
