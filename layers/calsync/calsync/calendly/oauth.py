"""Calendly's OAuth token endpoint: code exchange and refresh, with HTTP Basic client auth.

It spends single-use grants (codes, refresh tokens), so it re-sends only a request that cannot
have been processed: a connection that was never made, and a 429. A request that was sent and
got no usable answer (read timeout, dropped connection, 5xx) raises ``TokenOutcomeUnknown``; a
2xx that is not a token response raises ``TokenResponseInvalid``. The client secret, codes and
tokens are redacted from any error text Calendly echoes back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
from pydantic import ValidationError

from calsync.calendly.bodies import OAuthErrorBody, OAuthToken
from calsync.calendly.errors import (
    CalendlyError,
    InvalidGrant,
    OAuthError,
    TokenResponseInvalid,
)
from calsync.calendly.http import (
    DEFAULT_MAX_RATE_LIMIT_WAIT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    DEFAULT_TOKEN_URL,
    HttpOwner,
    Retrier,
    api_error_fields,
    json_or_none,
    logger,
    parse_model,
    redact,
)

# --- the OAuth client -------------------------------------------------------------------------


class OAuthClient(HttpOwner):
    """``POST https://auth.calendly.com/oauth/token`` with HTTP Basic client authentication."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        token_url: str = DEFAULT_TOKEN_URL,
        transport: httpx.BaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        max_retries: int = DEFAULT_MAX_RETRIES,
        sleep: Callable[[float], None] = time.sleep,
        max_rate_limit_wait: float = DEFAULT_MAX_RATE_LIMIT_WAIT,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._token_url = token_url
        self._transport = transport
        if isinstance(timeout, httpx.Timeout):
            self._timeout = timeout
        else:
            self._timeout = httpx.Timeout(timeout, connect=connect_timeout if connect_timeout is not None else timeout)
        self._retrier = Retrier(
            max_retries=max_retries, sleep=sleep, max_rate_limit_wait=max_rate_limit_wait, at_most_once=True
        )
        self._http: httpx.Client | None = None

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self._client_id!r}, token_url={self._token_url!r})"

    @property
    def _client(self) -> httpx.Client:
        return self._connection()

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuthToken:
        """Trade an authorization code (plus the PKCE verifier, if one was used) for tokens."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier is not None:
            form["code_verifier"] = code_verifier
        return self._token(form, secrets=(code, code_verifier or ""))

    def refresh(self, refresh_token: str) -> OAuthToken:
        """A new access token (and a new refresh token: the old one stops working)."""
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token}, secrets=(refresh_token,))

    @property
    def revoke_url(self) -> str:
        """``POST /oauth/revoke`` beside the token endpoint (``…/oauth/token`` → ``…/oauth/revoke``)."""
        base, _, _ = self._token_url.rstrip("/").rpartition("/")
        return f"{base}/revoke"

    def revoke(self, token: str) -> None:
        """Revoke an access or refresh token (``POST /oauth/revoke``, the app's ``client_id`` and
        ``client_secret`` in the form). 200: revoked. Calendly refuses a token it does not know
        (already revoked or expired) with 400 ``invalid_request``: ``OAuthError`` (``status`` 400),
        which a caller that only wants the token dead treats as done."""
        form = {"client_id": self._client_id, "client_secret": self._client_secret, "token": token}
        known = (self._client_secret, token)
        response = self._retrier.send(
            self._client, lambda: self._client.build_request("POST", self.revoke_url, data=form), known
        )
        if response.is_success:
            logger.info("calendly oauth token revoked")
            return
        body = json_or_none(response)
        try:
            error = OAuthErrorBody.model_validate(body)
        except ValidationError:
            title, message, _ = api_error_fields(response, known)
            raise OAuthError(response.status_code, title, message) from None
        description = redact(error.error_description, known) if error.error_description else None
        logger.info("calendly oauth revoke refused", extra={"status": response.status_code, "error": error.error})
        raise OAuthError(response.status_code, redact(error.error, known), description)

    def _token(self, form: dict[str, str], secrets: tuple[str, ...]) -> OAuthToken:
        known = (self._client_secret, *secrets)
        auth = httpx.BasicAuth(self._client_id, self._client_secret)

        def build() -> httpx.Request:
            request = self._client.build_request("POST", self._token_url, data=form)
            return next(auth.sync_auth_flow(request))

        response = self._retrier.send(self._client, build, known)
        body = json_or_none(response)
        if response.is_success:
            try:
                token = parse_model(OAuthToken, body, "POST oauth/token")
            except CalendlyError as exc:
                logger.warning("calendly oauth answer unreadable", extra={"grant_type": form["grant_type"]})
                raise TokenResponseInvalid(response.status_code, "Invalid token response", exc.message) from None
            logger.info("calendly oauth token issued", extra={"grant_type": form["grant_type"]})
            return token
        try:
            error = OAuthErrorBody.model_validate(body)
        except ValidationError:
            title, message, _ = api_error_fields(response, known)
            raise OAuthError(response.status_code, title, message) from None
        description = redact(error.error_description, known) if error.error_description else None
        kind = InvalidGrant if error.error == "invalid_grant" else OAuthError
        logger.info(
            "calendly oauth refused",
            extra={"grant_type": form["grant_type"], "status": response.status_code, "error": error.error},
        )
        raise kind(response.status_code, redact(error.error, known), description)


class LazyOAuth:
    """The token endpoint, built (reading the OAuth app secret) only when first needed:
    most refresher runs refresh nothing."""

    def __init__(self, build: Callable[[], OAuthClient]) -> None:
        self._build = build
        self._client: OAuthClient | None = None

    def _get(self) -> OAuthClient:
        if self._client is None:
            self._client = self._build()
        return self._client

    def refresh(self, refresh_token: str) -> OAuthToken:
        return self._get().refresh(refresh_token)

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> OAuthToken:
        return self._get().exchange_code(code, redirect_uri, code_verifier)

    def revoke(self, token: str) -> None:
        self._get().revoke(token)

    def __enter__(self) -> LazyOAuth:
        return self

    def __exit__(self, *_: object) -> None:
        if self._client is not None:
            self._client.close()
